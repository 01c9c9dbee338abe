"""Random initialisation of the BERT-style modules (as xbert ``_init_weights``)."""
from torch import nn


def init_bert_weights(module: nn.Module, std: float = 0.02) -> None:
    """Normal(0, std) for Linear/Embedding weights, zero biases, LayerNorm
    weight 1 / bias 0. Unlike HF, padding rows of embeddings are not zeroed
    (xbert does not either)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=std)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
