from geoprospect.cli import main

main()
