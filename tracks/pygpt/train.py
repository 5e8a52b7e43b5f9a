"""
pygpt's training script: a small GPT trained from scratch on the CPU under the harness's
budget, then scored by prepare.evaluate_bpb. Editable: the model, the optimizer, the
hyperparameters and the training loop are all fair game.

Usage: python3 train.py
"""

import prepare  # first: trusted, and under a verifier it must take stdout before any print

import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from prepare import VOCAB_SIZE, Budget, batches, evaluate_bpb, train_tokens

# ---------------------------------------------------------------------------
# Hyperparameters (edit these directly)
# ---------------------------------------------------------------------------

N_LAYER = 2
N_HEAD = 4
N_EMBD = 128
SEQ_LEN = 128            # the model's context; longer evaluation windows go in pieces
BATCH_SIZE = 16
LR = 0.001
WARMUP_STEPS = 20
WARMDOWN_FRACTION = 0.5  # the last half of the budget decays the learning rate linearly
FINAL_LR_FRACTION = 0.05
WEIGHT_DECAY = 0.1
BETA1 = 0.9
BETA2 = 0.95
GRAD_CLIP = 1.0
LOG_EVERY = 50

# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(N_EMBD)
        self.qkv = nn.Linear(N_EMBD, 3 * N_EMBD)
        self.proj = nn.Linear(N_EMBD, N_EMBD)
        self.ln2 = nn.LayerNorm(N_EMBD)
        self.fc = nn.Linear(N_EMBD, 4 * N_EMBD)
        self.out = nn.Linear(4 * N_EMBD, N_EMBD)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(N_EMBD, dim=2)
        q, k, v = (z.view(b, t, N_HEAD, c // N_HEAD).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(VOCAB_SIZE, N_EMBD)
        self.wpe = nn.Embedding(SEQ_LEN, N_EMBD)
        self.blocks = nn.ModuleList(Block() for _ in range(N_LAYER))
        self.ln_f = nn.LayerNorm(N_EMBD)
        self.apply(self._init)
        for block in self.blocks:
            for p in (block.proj.weight, block.out.weight):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * N_LAYER))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, idx, targets=None):
        """Logits [batch, time, VOCAB_SIZE] of ids [batch, time]; the mean loss with targets."""
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(t, device=idx.device))
        for block in self.blocks:
            x = block(x)
        logits = self.ln_f(x) @ self.wte.weight.T  # tied input and output embeddings
        if targets is None:
            return logits
        return F.cross_entropy(logits.reshape(-1, VOCAB_SIZE), targets.reshape(-1))


def learning_rate(step, progress):
    warmup = min(1.0, (step + 1) / WARMUP_STEPS) if WARMUP_STEPS else 1.0
    decay_start = 1.0 - WARMDOWN_FRACTION
    if progress <= decay_start:
        return LR * warmup
    f = (progress - decay_start) / WARMDOWN_FRACTION
    return LR * warmup * (1.0 - f * (1.0 - FINAL_LR_FRACTION))


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------

t_start = time.perf_counter()
torch.manual_seed(prepare.SEED)
torch.use_deterministic_algorithms(True)
threads = prepare.set_threads()

model = GPT()
num_params = sum(p.numel() for p in model.parameters())
decay = [p for p in model.parameters() if p.dim() >= 2]
no_decay = [p for p in model.parameters() if p.dim() < 2]
optimizer = torch.optim.AdamW(
    [{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}],
    lr=LR, betas=(BETA1, BETA2), foreach=True)
data = batches(train_tokens(), BATCH_SIZE, SEQ_LEN, seed=prepare.SEED)
budget = Budget()
print(f"pygpt: {num_params / 1e6:.2f}M parameters, {threads} threads, budget {budget.describe()}")

step = tokens = 0
smooth = None
while not budget.done(step, tokens):
    lr = learning_rate(step, budget.progress(step, tokens))
    for group in optimizer.param_groups:
        group["lr"] = lr
    x, y = next(data)
    loss = model(x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
    optimizer.step()
    step += 1
    tokens += x.numel()
    value = loss.item()
    if not math.isfinite(value):
        print(f"step {step}: loss is {value}; stopping")
        break
    smooth = value if smooth is None else 0.9 * smooth + 0.1 * value
    if step % LOG_EVERY == 0:
        rate = tokens / max(budget.elapsed(), 1e-9)
        print(f"step {step:5d} | loss {smooth:.4f} | lr {lr:.2e} | {rate:,.0f} tok/s")

training_seconds = budget.elapsed()
val_bpb = evaluate_bpb(model, model_context=SEQ_LEN)

print("---")
print(f"val_bpb:           {val_bpb:.6f}")
print(f"training_seconds:  {training_seconds:.1f}")
print(f"total_seconds:     {time.perf_counter() - t_start:.1f}")
print(f"peak_memory_mb:    {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")
print(f"num_steps:         {step}")
print(f"tokens_per_second: {tokens / max(training_seconds, 1e-9):.0f}")
print(f"num_params_M:      {num_params / 1e6:.2f}")
print(f"entropy_floor_bpb: {prepare.ENTROPY_FLOOR_BPB:.6f}")
