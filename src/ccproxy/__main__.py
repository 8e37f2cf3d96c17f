from ccproxy.cli.main import main

main()
