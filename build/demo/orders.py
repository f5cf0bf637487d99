#!/usr/bin/python3
"""The demo "orders API": answers with who called and with which claims (CGI)."""
import json
import os
import sys

body = {
    "api": "orders",
    "remote_user": os.environ.get("REMOTE_USER"),
    "auth_type": os.environ.get("AUTH_TYPE"),
    "issuer": os.environ.get("CLAIMS_ISSUER"),
    "claims": {k: v for k, v in sorted(os.environ.items()) if k.startswith("CLAIM_")},
    "orders": [{"id": 1, "item": "coffee"}, {"id": 2, "item": "tea"}],
}
sys.stdout.write("Content-Type: application/json\r\n\r\n")
sys.stdout.write(json.dumps(body, indent=2) + "\n")
