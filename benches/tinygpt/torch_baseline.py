"""PyTorch eager baseline for benches/tinygpt: the same byte-level GPT as
tracks/tinygpt (pre-norm blocks, LayerNorm with bias, bias-free linears, tanh-GELU MLP,
learned positions, untied head, AdamW with global-norm clipping), trained on random
windows of a byte text for a fixed time (throughput does not depend on the text). Prints `tokens_per_second: N`.
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, c, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(c)
        self.qkv = nn.Linear(c, 3 * c, bias=False)
        self.proj = nn.Linear(c, c, bias=False)
        self.ln2 = nn.LayerNorm(c)
        self.fc = nn.Linear(c, 4 * c, bias=False)
        self.out = nn.Linear(4 * c, c, bias=False)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, c, layers, heads, context):
        super().__init__()
        self.wte = nn.Embedding(256, c)
        self.wpe = nn.Embedding(context, c)
        self.blocks = nn.ModuleList(Block(c, heads) for _ in range(layers))
        self.lnf = nn.LayerNorm(c)
        self.head = nn.Linear(c, 256, bias=False)

    def forward(self, idx):
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t))
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.lnf(x))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--text", help="byte text to train on (default: random bytes)")
    p.add_argument("--n-embd", type=int, default=128)
    p.add_argument("--n-layer", type=int, default=2)
    p.add_argument("--n-head", type=int, default=4)
    p.add_argument("--context", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(1337)
    if a.text:
        data = torch.frombuffer(bytearray(open(a.text, "rb").read()), dtype=torch.uint8).long()
    else:
        data = torch.randint(256, (1 << 20,))
    model = Gpt(a.n_embd, a.n_layer, a.n_head, a.context)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)

    def step():
        ix = torch.randint(len(data) - a.context - 1, (a.batch,))
        x = torch.stack([data[i : i + a.context] for i in ix])
        y = torch.stack([data[i + 1 : i + 1 + a.context] for i in ix])
        loss = F.cross_entropy(model(x).view(-1, 256), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for _ in range(5):  # warm-up
        step()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < a.seconds:
        loss = step()
        steps += 1
    elapsed = time.perf_counter() - start
    assert math.isfinite(loss)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {steps} steps, loss {loss:.3f}")
    print(f"tokens_per_second: {steps * a.batch * a.context / elapsed:.0f}")


if __name__ == "__main__":
    main()
