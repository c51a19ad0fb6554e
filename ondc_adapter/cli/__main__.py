from ondc_adapter.cli import main

main()
