#!/usr/bin/env bash
# One command that measures everything on a GPU (or, with --quick, on any device in about a
# minute): the adapter, the gradient checks, the kernel and training-step benchmarks against
# the device's own ceilings, PyTorch side by side where CUDA exists, and a profiled training
# run. Writes OUTDIR/report.md (a summary table of the targets first) and the raw files.
#
#   bash tools/gpu-report.sh [--quick] OUTDIR
#
# Environment: SGW_BIN (the binary; default target/release/stylegan-wgpu, else
# .gpu/stylegan-wgpu), SGW_LOADER_DIR (a folder of Vulkan loader .deb files to unpack first,
# default .gl when it holds any), VK_DRIVER_FILES (the ICD; NVIDIA's path is used when it
# exists and nothing is set), SGW_REPORT_STAGES (which stages to run, in their fixed order,
# e.g. "info sg2 pytorch2"; default all: info gradcheck sg2 pytorch2 bench pytorch train).
# Each stage has its own time limit; a stage that fails or times out is recorded in the
# report and the script goes on. All stages together take longer than one 10-minute device
# call on an H200: choose the stages per call (tools/README.md).
set -uo pipefail
cd "$(dirname "$0")/.."

QUICK=0
if [ "${1:-}" = "--quick" ]; then
    QUICK=1
    shift
fi
OUT="${1:?usage: bash tools/gpu-report.sh [--quick] OUTDIR}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
STAGES="$OUT/stages.tsv"
: > "$STAGES"

# The binary: built here, or carried stripped to the GPU machine.
BIN="${SGW_BIN:-}"
if [ -z "$BIN" ]; then
    for b in target/release/stylegan-wgpu .gpu/stylegan-wgpu; do
        if [ -x "$b" ]; then BIN="$b"; break; fi
    done
fi
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
    echo "no stylegan-wgpu binary: run 'cargo build --release' or set SGW_BIN" >&2
    exit 2
fi

# A Vulkan loader brought as .deb files (the GPU machine has the driver but no loader). The
# NVIDIA ICD (libGLX_nvidia) needs glvnd's libGLdispatch as well: without it the loader reports
# "Could not get 'vkCreateInstance'" and finds no driver. As root with dpkg (the GPU machine),
# the packages go into / and ldconfig (the recipe that ran there); otherwise they are unpacked
# under the folder and put on LD_LIBRARY_PATH. (grep reads all of ldconfig's output: with
# pipefail, grep -q would stop early and SIGPIPE would read as "no loader".)
LOADER="${SGW_LOADER_DIR:-.gl}"
if compgen -G "$LOADER/*.deb" > /dev/null && ! ldconfig -p 2> /dev/null | grep 'libvulkan.so.1 ' > /dev/null; then
    if [ "$(id -u)" = 0 ] && command -v dpkg > /dev/null; then
        for d in "$LOADER"/*.deb; do dpkg -x "$d" /; done
        ldconfig
        echo "Vulkan loader from $LOADER: unpacked into /"
    else
        mkdir -p "$LOADER/root"
        for d in "$LOADER"/*.deb; do
            if command -v dpkg-deb > /dev/null; then
                dpkg-deb -x "$d" "$LOADER/root"
            else
                python3 tools/gpu_report.py --unpack-deb "$d" "$LOADER/root"
            fi
        done
        LIBDIR="$(dirname "$(find "$LOADER/root" -name 'libvulkan.so.1' | head -1)")"
        export LD_LIBRARY_PATH="$(cd "$LIBDIR" && pwd)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        echo "Vulkan loader from $LOADER: $LIBDIR"
    fi
fi
NV=/usr/local/nvidia/share
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$NV/vulkan/icd.d/nvidia_icd.json" ]; then
    export VK_DRIVER_FILES="$NV/vulkan/icd.d/nvidia_icd.json"
fi
if [ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ] && [ -f "$NV/glvnd/egl_vendor.d/10_nvidia.json" ]; then
    export __EGL_VENDOR_LIBRARY_FILENAMES="$NV/glvnd/egl_vendor.d/10_nvidia.json"
fi

# stage NAME LIMIT_S COMMAND...: run with a time limit, log to OUT/NAME.log, record the outcome.
stage() {
    local name="$1" limit="$2"
    shift 2
    local t0=$SECONDS rc
    echo "== $name (limit ${limit}s): $*"
    # SIGINT: a training run then writes its checkpoint and profile before it stops.
    timeout --signal=INT --kill-after=15 "$limit" "$@" > "$OUT/$name.log" 2>&1
    rc=$?
    local took=$((SECONDS - t0)) status=ok
    if [ $rc -eq 124 ] || [ $rc -eq 137 ] || [ $rc -eq 130 ]; then
        status="timed out"
    elif [ $rc -ne 0 ]; then
        status="failed (exit $rc)"
    fi
    printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$took" "$*" >> "$STAGES"
    echo "   $status in ${took}s"
}
skip() {
    printf '%s\t%s\t0\t-\n' "$1" "not available: $2" >> "$STAGES"
    echo "== $1: not available ($2)"
}

if [ $QUICK -eq 1 ]; then
    BENCH=(--quick) TORCH=(--quick) DEVICE=software
    TRAIN=(--preset small --max-res 8 --kimg 0.02)
    SG2=(--quick)
    LIMITS=(info=30 gradcheck=240 sg2=300 pytorch2=240 bench=240 pytorch=240 train=120)
else
    BENCH=(--full) TORCH=() DEVICE=gpu
    TRAIN=(--preset full --max-res 32 --kimg 0.5)
    # Measured on an H200 (first run, autotune cache cold): gradcheck 7 s, bench ~200 s
    # (145 s with the cache warm), pytorch 45 s.
    SG2=(--full)
    # StyleGAN2 (sg2, pytorch2) not yet measured on a GPU: limits are estimates.
    LIMITS=(info=20 gradcheck=45 sg2=240 pytorch2=150 bench=270 pytorch=90 train=45)
fi
limit() { for kv in "${LIMITS[@]}"; do [ "${kv%%=*}" = "$1" ] && echo "${kv#*=}"; done; }
ALL_STAGES="info gradcheck sg2 pytorch2 bench pytorch train"
WANT=" ${SGW_REPORT_STAGES:-$ALL_STAGES} "
for s in $WANT; do
    if [[ " $ALL_STAGES " != *" $s "* ]]; then
        echo "SGW_REPORT_STAGES: unknown stage '$s' (stages: $ALL_STAGES)" >&2
        exit 2
    fi
done
wanted() { [[ "$WANT" == *" $1 "* ]]; }
HAS_CUDA_TORCH=0
python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2> /dev/null && HAS_CUDA_TORCH=1

# torch_stage NAME OURS.json OUT.json ARGS...: PyTorch's side of a bench stage.
torch_stage() {
    local name="$1" ours="$2" theirs="$3"
    shift 3
    if [ $HAS_CUDA_TORCH -eq 0 ]; then
        skip "$name" "torch with CUDA is not installed here"
    elif [ ! -f "$ours" ]; then
        skip "$name" "no $(basename "$ours") to compare with"
    else
        stage "$name" "$(limit "$name")" python3 tools/pytorch_bench.py --device cuda "$@" \
            --ours "$ours" --json "$theirs"
    fi
}

wanted info && stage info "$(limit info)" "$BIN" info
wanted gradcheck && stage gradcheck "$(limit gradcheck)" "$BIN" gradcheck
# StyleGAN2's training steps (8..256, lazy R1 and path length weighted in) and PyTorch's.
wanted sg2 && stage sg2 "$(limit sg2)" "$BIN" bench "${SG2[@]}" --arch stylegan2 --filter train_step \
    --no-cpu --json "$OUT/sg2.json"
wanted pytorch2 && torch_stage pytorch2 "$OUT/sg2.json" "$OUT/torch2.json" "${TORCH[@]}" --arch stylegan2
wanted bench && stage bench "$(limit bench)" "$BIN" bench "${BENCH[@]}" --no-cpu --json "$OUT/bench.json"
wanted pytorch && torch_stage pytorch "$OUT/bench.json" "$OUT/torch.json" "${TORCH[@]}"
if wanted train; then
    # The run's folder (checkpoint, samples) stays outside OUT: only its profile is kept.
    RUN="$(mktemp -d)"
    stage train "$(limit train)" env SGW_PROFILE=1 "$BIN" train oasis --device "$DEVICE" "${TRAIN[@]}" \
        --quiet --out "$RUN/train"
    if [ -f "$RUN/train/profile.txt" ]; then
        cp "$RUN/train/profile.txt" "$OUT/profile.txt"
    fi
    rm -rf "$RUN"
fi

python3 tools/gpu_report.py "$OUT" $([ $QUICK -eq 1 ] && echo --quick)
echo "report: $OUT/report.md"
