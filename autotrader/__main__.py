from autotrader.cli.app import main

main()
