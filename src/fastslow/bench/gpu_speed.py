"""Issue 12 on a GPU: ``fst bench rl-step`` (fastslow vs TRL's GRPOTrainer on identical work) and ``fst bench
step-time`` (rl / fst without reuse / fst with reuse, GEPA rounds amortised) on a randomly initialised ~0.5B Qwen3
with the HF backend, on one lent GPU.

No network, no weights and no vLLM on the device: the model is built from a ``Qwen3Config`` (Qwen3-0.6B's shape, the
fastslow tokenizer's vocabulary: ~0.44B parameters, ``trl_gpu_check.random_qwen3``) and saved as a Hugging Face
folder, which both benchmarks load by path. fp32 (the trainers' default), TF32 matmuls. Random weights never write
EOS, so every completion runs to the token limit: the same shape of work for every arm, which is what a speed ratio
needs (the learning itself is not what is measured). Writes OUT_DIR/gpu-rl-step.json and OUT_DIR/gpu-step-time.json.

    python -m fastslow.bench.gpu_speed OUT_DIR [--rl-steps 5] [--fst-steps 12]
    python -m fastslow.bench.gpu_speed OUT_DIR --smoke     # CPU, a tiny model, few steps: checks the script itself
Device call: ``run(command="bash src/fastslow/bench/device/gpu_speed.sh", carry=[".whl"], timeout_s=540)``.
"""

import argparse
import json
import time
import traceback
from pathlib import Path

import torch

from fastslow.bench.trl_gpu_check import prepare


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--rl-steps", type=int, default=5)
    parser.add_argument("--fst-steps", type=int, default=12)
    parser.add_argument("--smoke", action="store_true", help="a tiny model on the CPU (checks the script)")
    parser.add_argument("--model-dir", type=Path, default=Path("/tmp/qwen3-random"))
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    tok, model = prepare(args.out, args.smoke)
    model.save_pretrained(args.model_dir)
    tok.save_pretrained(args.model_dir)
    info = {"device": torch.cuda.get_device_name(0) if cuda else "cpu", "torch": torch.__version__,
            "parameters": sum(p.numel() for p in model.parameters()), "model": "random Qwen3 (Qwen3-0.6B shape)",
            "dtype": "fp32 (TF32 matmuls)" if cuda else "fp32"}
    del model

    from fastslow.bench import rl_step, step_time

    jobs = {  # one failing does not cost the other its (scarce) device time
        "gpu-step-time.json": (lambda: step_time.run(str(args.model_dir), steps=args.fst_steps, sets=("same_work",),
                                                     unbatched=False, round_reps=1),
                               f"--fst-steps {args.fst_steps} (step_time.run, same_work)"),
        "gpu-rl-step.json": (lambda: rl_step.run(str(args.model_dir), args.rl_steps),
                             f"--rl-steps {args.rl_steps} (rl_step.run)"),
    }
    for name, (job, what) in jobs.items():
        start = time.perf_counter()
        try:
            result = job()
        except Exception:
            result = {"error": traceback.format_exc()}
            print(result["error"], flush=True)
        result.update(info, wall_s=time.perf_counter() - start, command=f"python -m fastslow.bench.gpu_speed OUT {what}")
        from fastslow.provenance import provenance

        (args.out / name).write_text(json.dumps({**result, "provenance": provenance()}, indent=1))
        print(name, "done", round(time.perf_counter() - start, 1), "s", flush=True)


if __name__ == "__main__":
    main()
