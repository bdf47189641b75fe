"""build-sft's run-store side, for the sharded-building test (tests/test_process.cpp).

  check_sft_store.py neighbours RUN_DIR   /build-sft/cf_neighbours (rows of /build-sft/item_ids, -1
                                          padded) holds exactly the lines of sft/neighbours.txt
  check_sft_store.py interrupt RUN_DIR    marks build-sft as interrupted (as a kill would leave it)
"""
import sys

import h5py

command, run_dir = sys.argv[1], sys.argv[2]
with h5py.File(f"{run_dir}/grlm.h5", "r+" if command == "interrupt" else "r") as store:
    if command == "interrupt":
        store["build-sft"].attrs["status"] = "in_progress"
        del store["build-sft"].attrs["record"]
        print("interrupted")
        sys.exit(0)
    ids = [i.decode() if isinstance(i, bytes) else i for i in store["build-sft/item_ids"][:]]
    table = store["build-sft/cf_neighbours"][:]
with open(f"{run_dir}/sft/neighbours.txt") as handle:
    header = handle.readline().split()
    lines = {parts[0]: parts[1:] for parts in (line.split() for line in handle)}
width = len(header) - 1
assert table.shape == (len(ids), width), (table.shape, len(ids), width)
full = 0
for row, item in enumerate(ids):
    listed = [ids[j] for j in table[row] if j >= 0]
    assert all(j >= 0 for j in table[row][:len(listed)]) and all(j < 0 for j in table[row][len(listed):]), row
    if len(listed) == width:
        full += 1
        assert lines[item] == listed, (item, lines[item], listed)
    else:
        assert item not in lines, f"{item} has {len(listed)} neighbours but a line in neighbours.txt"
assert full == len(lines), (full, len(lines))
print(f"checked {len(ids)} items, {full} full neighbour lists")
