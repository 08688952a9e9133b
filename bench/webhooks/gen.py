#!/usr/bin/env python3
"""Pre-sign N webhook requests for wrk (whose Lua has no HMAC): one line per
request, "id<TAB>signature<TAB>body", generic hmac scheme (X-Sig: sha256=<hex>
of the body, id in X-Id), no timestamp, so they stay valid however long the
run. Usage: gen.py N SECRET PREFIX > requests.tsv"""
import hashlib
import hmac
import sys

n, secret, prefix = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
out = sys.stdout
for i in range(n):
    eid = f"{prefix}-{i}"
    body = ('{"id":"%s","type":"order.paid","data":{"order":%d,"amount":4200,'
            '"currency":"eur","customer":"cus_%08d"}}' % (eid, i, i))
    sig = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    out.write(f"{eid}\t{sig}\t{body}\n")
