from zonewarden.cli import main

main()
