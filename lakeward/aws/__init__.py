"""What the AWS runtime adds around the core: how the definition maps onto AWS compute, the state machine
input contract, Secrets Manager connections and S3 landing. Handlers and Glue scripts call these."""
