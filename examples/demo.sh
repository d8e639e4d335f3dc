#!/usr/bin/env bash
# `make demo`: the main job on bundled sample data — Question-Answer Inversion of 200 real NExT-GQA val
# questions, then validation, statistics and a Hub dry run of the result, a re-score of TW-GRPO's MMVU log and
# a tiny-model evaluation smoke run, and an HTML page of each (evaluation, QAI). Outputs go to build/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
twgrpo=".venv/bin/twgrpo"
out=build/demo
mkdir -p "$out"

echo "== 1. Question-Answer Inversion (examples/nextgqa_val_sample.json, seed 0)"
$twgrpo qai convert examples/nextgqa_val_sample.json -o "$out/nextgqa_qai.json" --seed 0 \
    --report "$out/qai_report.json"

echo "== 2. Validate and summarise the converted set"
$twgrpo data validate "$out/nextgqa_qai.json"
$twgrpo data stats "$out/nextgqa_qai.json"

echo "== 3. What the Hub would receive (dry run: parquet + dataset card)"
$twgrpo publish "$out/nextgqa_qai.json" --repo-id demo/nextgqa-qai --report "$out/qai_report.json" \
    --split validation --dry-run --out "$out/hub_preview"

if [ -f ../shared/data/logs/twgrpo_mmvu_eval.jsonl ]; then
    echo "== 4. Re-score TW-GRPO's own MMVU log (the paper reports 65.8)"
    $twgrpo eval rescore ../shared/data/logs/twgrpo_mmvu_eval.jsonl
fi
if [ -d ../shared/data/videos ]; then
    echo "== 5. Evaluation smoke run: a tiny random Qwen2.5-VL on 6 questions over the real videos (scores are chance)"
    $twgrpo dev tiny-model "$out/tiny"
    $twgrpo eval --bench mmvu --data examples/eval_sample.json --video-root ../shared/data/videos \
        --model "$out/tiny" --backend transformers --out "$out/eval_run" --frames 4 --max-new-tokens 16 --no-progress
    $twgrpo eval rescore "$out/eval_run/samples.jsonl"
fi
echo "== 6. HTML reports: open them in a browser (self-contained files, no server)"
$twgrpo qai report "$out/qai_report.json" -o "$out/qai_report.html" --input examples/nextgqa_val_sample.json
pages="$out/qai_report.html"
if [ -d "$out/eval_run" ]; then
    $twgrpo eval report "$out/eval_run" -o "$out/eval_report.html" --video-root ../shared/data/videos
    pages="$out/eval_report.html $pages"
fi
echo "demo outputs: $out"
echo "report pages: $pages"
