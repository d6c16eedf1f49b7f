"""Alert router: parse SNS/SQS/EventBridge alert messages, route them, format them for Slack and
PagerDuty, and deliver them with a bounded retry policy.

Modules are split by concern: `envelope` (transport), `parse` and `model` (what the alert is),
`routing` (where it goes), `slack_format` and `pagerduty_format` (pure payload builders),
`delivery_policy` and `senders` (HTTP), `router` (one batch, end to end).
"""
