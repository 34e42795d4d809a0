from packhorse.cli.main import main

main()
