#!/usr/bin/env bash
# Fetches the public GRLM release for users (never used by the tests): the reference repository
# (https://github.com/ZY0025/GRLM: code and prompts) and its "complete intermediate data and
# evaluation results" archive from Google Drive (interactions, released TIDs, neighbours, reported
# recall per dataset), then lists where each dataset's files are, for configs/beauty*.json.
# Usage: scripts/download_data.sh [DEST]   (default data/grlm-release)
set -euo pipefail
DEST="${1:-data/grlm-release}"
DRIVE_ID=1QLAMH0rNIRIGfCVWt6oBnPaCtgFY5JIU
mkdir -p "$DEST"
if [ ! -d "$DEST/GRLM" ]; then
  git clone --depth 1 https://github.com/ZY0025/GRLM.git "$DEST/GRLM"
fi
archive="$DEST/grlm-data.zip"
if [ ! -s "$archive" ]; then
  # Large Drive files need the confirmation parameter; curl follows the redirects.
  curl -fL --retry 3 -o "$archive" "https://drive.usercontent.google.com/download?id=${DRIVE_ID}&export=download&confirm=t"
fi
case "$(file -b --mime-type "$archive")" in
  application/zip) unzip -q -o "$archive" -d "$DEST/data" ;;
  application/gzip|application/x-gzip) mkdir -p "$DEST/data" && tar -xzf "$archive" -C "$DEST/data" ;;
  application/x-tar) mkdir -p "$DEST/data" && tar -xf "$archive" -C "$DEST/data" ;;
  *) echo "downloaded $archive is not an archive (Drive may have refused the download): open https://drive.google.com/file/d/${DRIVE_ID}/view" >&2; exit 1 ;;
esac
echo "files per dataset (use them as data.interactions, data.tids, data.neighbours):"
find "$DEST/data" \( -name '*sequential_data.txt' -o -name '*_item_id2tid.json' -o -name '*similar_item*.txt' \
  -o -name '*item.json' -o -name 'reported_recall.json' \) | sort
