#!/usr/bin/env bash
# Puts the MNI ICBM152 2009a (symmetric, nonlinear) T1 template, a 197x233x189 volume at 1 mm,
# into data/ as data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz, for
#   stylegan-wgpu train nifti --data data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz
#
# The template ships inside the nilearn wheel on PyPI, so this downloads that wheel (without
# its dependencies) with pip and unpacks the one file. Run from anywhere; does nothing when
# the file is already there. Needs python3 with pip, and network access to PyPI.
set -euo pipefail

NAME=mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz
MEMBER=nilearn/datasets/data/$NAME
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST_DIR=$ROOT/data
DEST=$DEST_DIR/$NAME

if [[ -s $DEST ]]; then
    echo "fetch_mni: $DEST is already there; nothing to do."
    exit 0
fi

if command -v pip >/dev/null 2>&1; then
    PIP=(pip)
elif command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
    PIP=(python3 -m pip)
else
    echo "fetch_mni: needs pip (or python3 with the pip module) to download the nilearn wheel." >&2
    exit 1
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "fetch_mni: downloading the nilearn wheel (it holds the template) with ${PIP[*]} ..."
if ! "${PIP[@]}" download --no-deps --only-binary=:all: nilearn -d "$TMP" >"$TMP/pip.log" 2>&1; then
    cat "$TMP/pip.log" >&2
    echo "fetch_mni: pip could not download nilearn (see above)." >&2
    exit 1
fi
shopt -s nullglob
WHEELS=("$TMP"/nilearn-*.whl)
if [[ ${#WHEELS[@]} -eq 0 ]]; then
    echo "fetch_mni: pip finished but left no nilearn wheel in $TMP." >&2
    exit 1
fi
WHEEL=${WHEELS[0]}
echo "fetch_mni: unpacking $MEMBER from $(basename "$WHEEL") ..."

mkdir -p "$DEST_DIR"
PART=$DEST.part
if command -v unzip >/dev/null 2>&1; then
    if ! unzip -p "$WHEEL" "$MEMBER" >"$PART"; then
        rm -f "$PART"
        echo "fetch_mni: $(basename "$WHEEL") has no $MEMBER (did nilearn move it?)." >&2
        exit 1
    fi
else
    if ! python3 - "$WHEEL" "$MEMBER" "$PART" <<'EOF'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
    then
        rm -f "$PART"
        echo "fetch_mni: $(basename "$WHEEL") has no $MEMBER (did nilearn move it?)." >&2
        exit 1
    fi
fi
if [[ ! -s $PART ]]; then
    rm -f "$PART"
    echo "fetch_mni: the unpacked template is empty." >&2
    exit 1
fi
mv "$PART" "$DEST"
echo "fetch_mni: wrote $DEST ($(wc -c <"$DEST") bytes)."
