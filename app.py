"""CDK entry point (`cdk synth` runs `python app.py`).

The stacks are not written yet. Exiting with an error keeps anyone from deploying an empty app."""

import sys

sys.exit("Lakeward's CDK stacks are not written yet: nothing to synthesize (see cdk/README.md).")
