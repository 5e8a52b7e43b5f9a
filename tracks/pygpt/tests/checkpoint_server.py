"""
A trusted checkpoint server, as a track whose training run leaves a checkpoint would write
one: load the model, hand it to swarmlab_logits.serve.

Usage: SWARMLAB_LOGITS=serve python3 tests/checkpoint_server.py MODEL.pt
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import swarmlab_logits  # noqa: E402  (first: saves the protocol's channel)

import torch  # noqa: E402


class Tiny(torch.nn.Module):
    """A small causal model over 300 tokens: each position sees its token and the one before."""

    VOCAB = 300
    CONTEXT = 6

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(self.VOCAB, 16)
        self.prev = torch.nn.Embedding(self.VOCAB, 16)
        self.head = torch.nn.Linear(16, self.VOCAB)

    def forward(self, idx):
        before = torch.nn.functional.pad(idx, (1, 0))[:, :-1]
        return self.head(torch.tanh(self.emb(idx) + self.prev(before)))


if __name__ == "__main__":
    print("loading the checkpoint")  # goes to the log, not the protocol
    model = Tiny()
    model.load_state_dict(torch.load(sys.argv[1], weights_only=True))
    print(swarmlab_logits.serve(model, vocab=Tiny.VOCAB, context=Tiny.CONTEXT))
