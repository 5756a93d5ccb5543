# PyTorch baseline for the kvq CUDA bench: scaled_dot_product_attention(q, k, v, enable_gqa=True) on
# fp16 K/V, one query token per sequence, Llama-3.1-8B attention shapes; median of CUDA-event timings
# of single calls (ms: as called from an idle GPU; gpuMs: the GPU alone, behind a busy kernel),
# rotating among copies so that small caches are not timed out of L2. Writes JSON to argv[1].
import json, sys, torch
import torch.nn.functional as F

HQ, HKV, D = 32, 8, 128
res = []
dev = torch.device('cuda')
for B in (1, 16):
    for ctx in (4096, 32768, 131072):
        bytes_kv = B * HKV * ctx * D * 2 * 2
        copies = max(1, min(8, -(-256 * 2**20 // bytes_kv)))
        try:
            ks = [torch.randn(B, HKV, ctx, D, device=dev, dtype=torch.float16) for _ in range(copies)]
            vs = [torch.randn(B, HKV, ctx, D, device=dev, dtype=torch.float16) for _ in range(copies)]
        except torch.OutOfMemoryError:
            res.append({'B': B, 'ctx': ctx, 'error': 'out of memory'}); torch.cuda.empty_cache(); continue
        q = torch.randn(B, HQ, 1, D, device=dev, dtype=torch.float16)
        for i in range(5):
            F.scaled_dot_product_attention(q, ks[i % copies], vs[i % copies], enable_gqa=True)
        torch.cuda.synchronize()
        def median_ms(busy):
            times = []
            for i in range(30):
                s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                # busy: the GPU spins (~0.5 ms) while Python enqueues the call, so the events time
                # the GPU alone (as triton's do_bench); otherwise an idle GPU also waits for the host
                if busy: torch.cuda._sleep(1_000_000)
                s.record(); F.scaled_dot_product_attention(q, ks[i % copies], vs[i % copies], enable_gqa=True); e.record()
                e.synchronize(); times.append(s.elapsed_time(e))
            times.sort()
            return times[len(times) // 2]
        ms = median_ms(False)
        gpu_ms = median_ms(True)
        res.append({'B': B, 'ctx': ctx, 'ms': ms, 'gpuMs': gpu_ms, 'GBps': bytes_kv / ms / 1e6})
        del ks, vs; torch.cuda.empty_cache()
out = {'device': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'sdpa': res}
json.dump(out, open(sys.argv[1], 'w'), indent=1)
for r in res: print('torch', r)
