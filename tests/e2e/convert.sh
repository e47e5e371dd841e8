#!/usr/bin/env bash
# scripts/convert_torchvision.py turns torchvision state dicts into aslnet checkpoints: a converted
# 29-class resnet18 predicts a synthetic image as torchvision does (same class, probability within
# 0.02; the two resizes differ slightly), and a converted 1000-class model fine-tunes with --reset-head.
source "$(dirname "$0")/common.sh"
/usr/bin/python3 -c "import torch, torchvision" 2>/dev/null || {
  if [[ -n "${ASLNET_REQUIRE_TORCH:-}" && "${ASLNET_REQUIRE_TORCH}" != 0 ]]; then echo "python3-torch missing" >&2; exit 1; fi
  echo "skipped: convert: python3-torch / python3-torchvision not installed"; exit 77; }
scripts="$(cd "$(dirname "$0")/../../scripts" && pwd)"
work="$WORK-convert"
rm -rf "$work" && mkdir -p "$work"
"$ASLNET" synth --out "$work/synth" --per-class 2 --size 64 --seed 5 > /dev/null
image="$work/synth/L/L1.jpg"
/usr/bin/python3 - "$work" "$image" <<'PY'
import json, sys, torch, torchvision
from PIL import Image
from torchvision import transforms
work, image = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
model = torchvision.models.resnet18(num_classes=29)
# Non-trivial batch-norm statistics, so a wrong mapping of running_mean/var would show.
for m in model.modules():
    if isinstance(m, torch.nn.BatchNorm2d):
        m.running_mean.uniform_(-0.1, 0.1); m.running_var.uniform_(0.5, 1.5)
torch.save(model.state_dict(), f"{work}/r18.pth")
torch.save(torchvision.models.resnet18(num_classes=1000).state_dict(), f"{work}/r18_1000.pth")
model.eval()
pre = transforms.Compose([transforms.Resize(73), transforms.CenterCrop(64), transforms.ToTensor(),
                          transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
with torch.no_grad():
    probs = torch.softmax(model(pre(Image.open(image).convert("RGB"))[None]), 1)[0]
top = int(probs.argmax())
json.dump({"class": top, "probability": float(probs[top])}, open(f"{work}/torch.json", "w"))
PY
/usr/bin/python3 "$scripts/convert_torchvision.py" "$work/r18.pth" "$work/r18.safetensors" --image-size 64
/usr/bin/python3 "$scripts/convert_torchvision.py" "$work/r18_1000.pth" "$work/r18_1000.safetensors"
"$ASLNET" predict "$work/r18.safetensors" "$image" --top-k 1 --json > "$work/aslnet.json"
/usr/bin/python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
ours = json.load(open(f"{work}/aslnet.json"))[0]["top"][0]
theirs = json.load(open(f"{work}/torch.json"))
classes = [chr(c) for c in range(ord("A"), ord("Z") + 1)] + ["del", "nothing", "space"]
assert ours["class"] == classes[theirs["class"]], (ours, theirs)
assert abs(ours["probability"] - theirs["probability"]) < 0.02, (ours, theirs)
print(f"converted model predicts {ours['class']} with {ours['probability']:.4f} (torchvision: {theirs['probability']:.4f})")
PY
"$ASLNET" train "$work/synth" --init-from "$work/r18_1000.safetensors" --reset-head --epochs 1 --image-size 32 \
  --batch 8 --val-fraction 0 --out "$work/finetune" --quiet --threads 2
[[ -f "$work/finetune/last.safetensors" ]]
# Without --reset-head, the 1000-class head cannot load into a 29-class model: one line says so.
if "$ASLNET" train "$work/synth" --init-from "$work/r18_1000.safetensors" --epochs 1 --image-size 32 --batch 8 \
  --val-fraction 0 --out "$work/bad" --quiet 2> "$work/err.txt"; then echo "loaded a 1000-class head" >&2; exit 1; fi
grep -q "1000 classes" "$work/err.txt"
echo "conversion and fine-tuning ok"
