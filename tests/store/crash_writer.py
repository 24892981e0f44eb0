"""A process that writes to a store and reports every acknowledged write on stdout.

Run by the durability tests, which kill it with SIGKILL and then check the
database against what it reported. Lines:
``I <id>`` insert, ``U <id> <n>`` update to counter n, ``d <id>`` delete attempted,
``D <id>`` delete done,
``B <tag> <id,id,id>`` an atomic batch of three inserts.
``--kill-at STAGE`` makes the process kill itself at a compaction stage.
"""

import argparse
import asyncio
import os
import random
import signal
import sys

from jupyter_opensink.store import Insert, TinyStore

from .specs import SPECS


def report(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def writer(store: TinyStore, rng: random.Random, live: list[str], counters: dict[str, int]) -> None:
    while True:
        roll = rng.random()
        if roll < 0.55 or not live:
            doc = await store.insert("items", {"sink_id": "s", "title": "x" * rng.randint(1, 300), "n": 0})
            live.append(doc["id"])
            counters[doc["id"]] = 0
            report(f"I {doc['id']}")
        elif roll < 0.75:
            target = rng.choice(live)
            n = counters[target] + 1
            counters[target] = n  # claimed before awaiting so concurrent writers never go back
            try:
                await store.update("items", target, {"n": n})
            except Exception:
                continue  # deleted meanwhile by another task
            report(f"U {target} {n}")
        elif roll < 0.85:
            target = live.pop(rng.randrange(len(live)))
            report(f"d {target}")  # attempted: after a kill it may or may not have happened
            await store.delete("items", target)
            report(f"D {target}")
        else:
            tag = f"b{rng.getrandbits(48):x}"
            docs = await store.batch([Insert("items", {"sink_id": "s", "title": tag, "batch": tag})
                                      for _ in range(3)])
            report(f"B {tag} {','.join(d['id'] for d in docs)}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("--fsync", default="always")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--compact-min-bytes", type=int, default=32 * 1024 * 1024)
    parser.add_argument("--kill-at", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    store = TinyStore.open(args.directory, SPECS, fsync=args.fsync, compact_min_bytes=args.compact_min_bytes,
                           compact_ratio=0.0)
    if args.kill_at:
        def hook(stage: str) -> None:
            if stage == args.kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
        store.compaction_hook = hook
    existing = await store.all("items")
    live = [d["id"] for d in existing if "batch" not in d]
    counters = {d["id"]: d.get("n", 0) for d in existing}
    report("READY")
    rng = random.Random(args.seed)
    await asyncio.gather(*(writer(store, random.Random(rng.random()), live, counters)
                           for _ in range(args.writers)))


if __name__ == "__main__":
    asyncio.run(main())
