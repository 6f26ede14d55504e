from lexigram.storage.cli.main import main

main()
