#!/usr/bin/env python3
"""Adds the cross-site answers (403 CrossSiteForbidden, 415 UnsupportedMediaType)
to every state-changing operation of httpd/openapi.json that a user may call
and that lacks them. TestOpenAPIDocumentsCrossSiteAnswers lists what is missing;
public and runner-only operations are left alone (pass their paths to skip)."""
import json, sys
path = 'httpd/openapi.json'
skip = set(sys.argv[1:])
d = json.load(open(path))
for p, ops in d['paths'].items():
    for method, op in ops.items():
        if method not in ('post', 'put', 'patch', 'delete') or f'{method.upper()} {p}' in skip:
            continue
        if not any('cookieAuth' in req for req in op.get('security', d.get('security')) or []):
            continue
        r = op.setdefault('responses', {})
        changed = False
        if '403' not in r:
            r['403'] = {'$ref': '#/components/responses/CrossSiteForbidden'}; changed = True
        if '415' not in r:
            r['415'] = {'$ref': '#/components/responses/UnsupportedMediaType'}; changed = True
        if changed:
            op['responses'] = dict(sorted(r.items()))
            print('added to', method.upper(), p)
open(path, 'w').write(json.dumps(d, indent=2, ensure_ascii=False) + '\n')
