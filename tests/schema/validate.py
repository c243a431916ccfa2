#!/usr/bin/env python3
"""Check evidence records against the record's JSON Schema, with an independent validator.

    validate.py SCHEMA --accept FILE...   every record of each FILE must validate
    validate.py SCHEMA --refuse FILE      every record of FILE must be refused

A FILE holds one record (an object with "subject"), a list of records, or {"records": [...]}; for
--refuse, each item is {"why", "path", "record"}. The validator is python3-jsonschema (Draft
2020-12), so the schema is judged by an implementation that is not digestgate's own. Exits 0 when
every record is judged as expected, 1 otherwise, 2 on a usage error.
"""
import json
import sys

import jsonschema


def records_of(path):
    with open(path, encoding="utf-8") as f:
        value = json.load(f)
    if isinstance(value, dict) and "records" in value:
        return value["records"]
    return value if isinstance(value, list) else [value]


def main(argv):
    if len(argv) < 4 or argv[2] not in ("--accept", "--refuse"):
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    failures = 0
    count = 0
    for path in argv[3:]:
        for i, item in enumerate(records_of(path)):
            count += 1
            if argv[2] == "--accept":
                errors = list(validator.iter_errors(item))
                for e in errors:
                    where = "/".join(str(p) for p in e.absolute_path)
                    print(f"{path}[{i}]: refused at /{where}: {e.message}")
                failures += bool(errors)
            elif validator.is_valid(item["record"]):
                print(f"{path}[{i}]: accepted, but the daemon refuses it: {item['why']}")
                failures += 1
    print(f"{count} records, {failures} judged otherwise than expected")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
