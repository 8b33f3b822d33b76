#!/usr/bin/python3
"""Reach into a SOPS file's age entries without harombe (standard library only).

  sops_enc.py get FILE INDEX            print the armored age file of entry INDEX
  sops_enc.py put FILE INDEX ARMORFILE  replace it (JSON files only)
"""
import json
import sys


def entries_yaml(text):
    out, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == "enc: |":
            ind = len(line) - len(line.lstrip()) + 1
            block, i = [], i + 1
            while i < len(lines) and (lines[i].startswith(" " * ind) or not lines[i].strip()):
                if not lines[i].strip():
                    break
                block.append(lines[i].strip())
                i += 1
            out.append("\n".join(block) + "\n")
            continue
        i += 1
    return out


def get(path, idx):
    text = open(path).read()
    if path.endswith(".json"):
        return json.loads(text)["sops"]["age"][idx]["enc"]
    if path.endswith(".yaml"):
        return entries_yaml(text)[idx]
    want = ("sops_" if path.endswith(".env") else "") + "age__list_%d__map_enc" % idx
    for line in text.split("\n"):
        sep = "=" if path.endswith(".env") else " = "
        if line.startswith(want) and sep in line:
            key, val = line.split("=", 1)
            if key.strip() == want:
                return val.strip().replace("\\n", "\n")
    raise SystemExit("no entry %d in %s" % (idx, path))


def main():
    if sys.argv[1] == "get":
        sys.stdout.write(get(sys.argv[2], int(sys.argv[3])))
    elif sys.argv[1] == "put":
        doc = json.load(open(sys.argv[2]))
        doc["sops"]["age"][int(sys.argv[3])]["enc"] = open(sys.argv[4]).read()
        json.dump(doc, open(sys.argv[2], "w"), indent="\t")
    else:
        raise SystemExit(2)


main()
