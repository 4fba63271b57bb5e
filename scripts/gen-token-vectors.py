#!/usr/bin/env python3
"""Generates tests/vectors/token.json: EKS bearer tokens minted by awscli/botocore.

The vectors are the independent reference for src/core/token.rs. Each token is produced
by awscli's own `aws eks get-token` machinery (STSClientFactory + TokenGenerator: an STS
client whose GetCallerIdentity presigned URL gets the `x-k8s-aws-id` header injected
before signing, ExpiresIn=60), for fixed credentials and a frozen signing time, so the
file is reproducible byte for byte.

Usage (from the repository root):
    PATH="$(scripts/python-env.sh):$PATH" python scripts/gen-token-vectors.py > tests/vectors/token.json
"""

import datetime
import json
import os
import sys
from unittest import mock

# Nothing from the caller's environment may leak into the reference: no profile, no
# endpoint override, regional STS endpoints (the EKS default).
for key in list(os.environ):
    if key.startswith("AWS_"):
        del os.environ[key]
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_STS_REGIONAL_ENDPOINTS"] = "regional"
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

import awscli  # noqa: E402
import botocore  # noqa: E402
import botocore.auth  # noqa: E402
import botocore.session  # noqa: E402
from awscli.customizations.eks.get_token import (  # noqa: E402
    STSClientFactory,
    TokenGenerator,
)

ACCESS_KEY_ID = "AKIDEXAMPLE"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
# Shaped like a real STS session token: long, with '/', '+' and '=' to exercise encoding.
SESSION_TOKEN = (
    "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+example/token+"
    "with/slashes+and+plus=signs" + "A" * 600 + "=="
)
TIMES = ["2026-01-02T03:04:05Z", "2024-02-29T23:59:59Z"]
REGIONS = [
    "us-east-1",
    "eu-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "us-gov-west-1",
    "us-gov-east-1",
    "us-iso-east-1",
    "us-isob-east-1",
]
CLUSTERS = [
    "prod",
    "team-a_staging-01",
    # EKS allows 100 characters.
    "c" + "0123456789" * 9 + "abcdefghi",
]


def main():
    cases = []
    for when in TIMES:
        for region in REGIONS:
            for cluster in CLUSTERS:
                for session_token in (None, SESSION_TOKEN):
                    session = botocore.session.Session()
                    session.set_credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY, session_token)
                    sts = STSClientFactory(session).get_sts_client(region_name=region)
                    frozen = datetime.datetime.strptime(when, "%Y-%m-%dT%H:%M:%SZ")
                    generator = TokenGenerator(sts)
                    with mock.patch.object(
                        botocore.auth, "get_current_datetime", lambda *a, **k: frozen
                    ):
                        url = generator._get_presigned_url(cluster)
                        token = generator.get_token(cluster)
                    cases.append(
                        {
                            "name": f"{region}/{cluster[:20]}/{when}/"
                            + ("session" if session_token else "static"),
                            "region": region,
                            "cluster": cluster,
                            "signing_time": when,
                            "session_token": session_token is not None,
                            "url": url,
                            "token": token,
                        }
                    )
    doc = {
        "generator": "scripts/gen-token-vectors.py",
        "reference": f"awscli {awscli.__version__} (eks get-token), botocore {botocore.__version__}",
        "access_key_id": ACCESS_KEY_ID,
        "secret_access_key": SECRET_ACCESS_KEY,
        "session_token": SESSION_TOKEN,
        "cases": cases,
    }
    json.dump(doc, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
