#!/usr/bin/env python3
"""Tabulates bench/transfer/run.sh's rows: the last epoch's validation figures of each run (log.jsonl),
per real-world source, as Markdown on stdout and JSON beside it (WORK/transfer.json)."""
import json
import os
import sys

REAL = ["rfasl", "rfaslaug", "massey", "nesrine"]
KAGGLE = ["asl_alphabet_train", "full"]  # the grouped split of the Kaggle sample or of the whole set


def figures(sets):
    """The Kaggle split's figure, each real source's, and all real photos pooled, from one epoch's sets."""
    kaggle = next((sets[k] for k in KAGGLE if k in sets), None)
    real = {k: sets[k] for k in REAL if k in sets}
    count = sum(v["count"] for v in real.values())
    pooled = {"accuracy": sum(v["accuracy"] * v["count"] for v in real.values()) / count if count else None,
              "count": count}
    return kaggle, real, pooled


def read_eval(folder, weights, tta):
    """aslnet eval's totals over the row's real sources (bench/transfer/run.sh's eval_row), or None."""
    path = os.path.join(folder, f"eval-{weights}-{tta}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        e = json.load(f)
    return {"accuracy": e["accuracy"], "restricted_accuracy": e["restricted_accuracy"], "count": e["images"]}


def read_row(work, row):
    folder = os.path.join(work, row)
    with open(os.path.join(folder, "log.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    start = next(r for r in records if r["event"] == "start")
    epochs = [r for r in records if r["event"] == "epoch"]
    last = epochs[-1]
    kaggle, real, pooled = figures(last.get("val_sets", {}))
    ema = figures(last["ema_val_sets"]) if "ema_val_sets" in last else None

    def text(name):
        return open(os.path.join(folder, name)).read().strip() if os.path.exists(os.path.join(folder, name)) else ""

    return {
        "row": row,
        "what": text("what.txt"),
        "command": text("command.txt"),
        "seconds": int(text("seconds.txt") or 0),
        "epochs": last["epoch"],
        "train_sources": start.get("train_sources", []),
        "kaggle_split": kaggle,
        "real": real,
        "real_pooled": pooled,
        "ema": None if ema is None else {"kaggle_split": ema[0], "real": ema[1], "real_pooled": ema[2],
                                         "eval": {t: read_eval(folder, "last-ema", t) for t in ("none", "flip")}},
        "eval": {t: read_eval(folder, "last", t) for t in ("none", "flip")},
    }


def pct(v):
    return "" if v is None else f"{100 * v['accuracy']:.1f}% ({v['count']})"


def main():
    work = sys.argv[1]
    rows = sorted(d for d in os.listdir(work) if os.path.exists(os.path.join(work, d, "log.jsonl")))
    table = [read_row(work, r) for r in rows]
    with open(os.path.join(work, "transfer.json"), "w") as f:
        json.dump(table, f, indent=1)
    print("| row | training | epochs | time | Kaggle grouped split | " + " | ".join(REAL) +
          " | real photos reported | restricted to the letters | with --tta flip |")
    print("| --- | --- | --- | --- | --- | " + " | ".join("---" for _ in REAL) + " | --- | --- | --- |")
    for t in table:
        trained = " + ".join(f"{s['name']} ({s['per_epoch']}/epoch)" for s in t["train_sources"])
        variants = [("", t)] + ([(" (EMA weights)", t["ema"])] if t["ema"] else [])
        for label, v in variants:
            cells = [pct(v["real"].get(k)) if k in v["real"] else "trained on" if any(
                k in s["name"].split("+") for s in t["train_sources"]) else "" for k in REAL]
            plain, flip = v["eval"]["none"], v["eval"]["flip"]
            restricted = f"{100 * plain['restricted_accuracy']:.1f}%" if plain else ""
            tta = f"{100 * flip['accuracy']:.1f}%" if flip else ""
            print(f"| {t['row']}{label} | {t['what']}: {trained} | {t['epochs']} | {t['seconds']} s | "
                  f"{pct(v['kaggle_split'])} | " + " | ".join(cells) +
                  f" | {pct(v['real_pooled']) if v['real_pooled']['count'] else ''} | {restricted} | {tta} |")
    print()
    for t in table:
        print(f"- row {t['row']}: `{t['command']}`")


if __name__ == "__main__":
    main()
