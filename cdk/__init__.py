"""The Lakeward CDK app: constructs by concern, composed in stack.py, generated from pipeline.yaml."""
