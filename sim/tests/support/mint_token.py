"""Mints an EKS bearer token with botocore's own SigV4 query signer (the reference the
simulator is checked against). One JSON argument:
{"access_key", "secret", "session_token"?, "region", "cluster" (null: header not signed),
 "host"? (default sts.REGION.amazonaws.com), "at"? (unix seconds; default now)}.
Prints the token (k8s-aws-v1. + unpadded base64url of the presigned URL)."""
import base64
import datetime
import json
import sys

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

a = json.loads(sys.argv[1])
if a.get("at") is not None:
    fixed = datetime.datetime.fromtimestamp(a["at"], datetime.timezone.utc).replace(tzinfo=None)
    botocore.auth.get_current_datetime = lambda *args, **kwargs: fixed
host = a.get("host") or "sts.%s.amazonaws.com" % a["region"]
headers = {}
if a.get("cluster") is not None:
    headers["x-k8s-aws-id"] = a["cluster"]
req = AWSRequest(
    method="GET",
    url="https://%s/?Action=GetCallerIdentity&Version=2011-06-15" % host,
    headers=headers,
)
creds = Credentials(a["access_key"], a["secret"], a.get("session_token"))
botocore.auth.SigV4QueryAuth(creds, "sts", a["region"], expires=60).add_auth(req)
print("k8s-aws-v1." + base64.urlsafe_b64encode(req.url.encode()).decode().rstrip("="))
