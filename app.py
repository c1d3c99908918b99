"""CDK entry point (`cdk synth` runs `python app.py`): one stack per environment, from pipeline.yaml.

    python app.py                 # dev
    cdk synth -c env=prod         # the CLI passes context through CDK_CONTEXT_JSON
"""

from __future__ import annotations

from cdk.app import synthesize

if __name__ == "__main__":
    synthesize()
