"""Local tooling: the embedded AWS (moto server), local Slack and PagerDuty receivers, local
deployment of template.yaml, `make invoke`, and the demo. Never shipped to Lambda."""
