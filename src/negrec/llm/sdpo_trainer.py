"""S-DPO as a TRL `DPOTrainer`: its accelerate set-up (DDP, FSDP, DeepSpeed, bf16), fractional epochs, checkpoints,
resume and logging, with this project's loss over K masked negatives (`negrec.llm.sdpo`) and a collator that
batches K rejected answers per prompt. Imported only when an S-DPO stage starts (TRL is heavy)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from trl import DPOTrainer

from negrec.llm.sdpo import encode_completion, pad_rows, sdpo_loss, sequence_logps

COLUMNS = ["chosen_ids", "chosen_start", "rejected_ids", "rejected_starts"]


@dataclass
class KRejectedCollator:
    """B records with up to K negatives → B + B·K padded rows (the chosen answers, then each record's K negatives)
    and a (B, K) mask of real negatives; a missing negative's row repeats the record's chosen answer, masked out."""

    pad_token_id: int

    def __call__(self, examples: list[dict]) -> dict[str, torch.Tensor]:
        k = max(len(e["rejected_ids"]) for e in examples)
        rows = [e["chosen_ids"] for e in examples]
        starts = [e["chosen_start"] for e in examples]
        mask = torch.zeros((len(examples), k), dtype=torch.bool)
        for i, e in enumerate(examples):
            for j in range(k):
                real = j < len(e["rejected_ids"])
                rows.append(e["rejected_ids"][j] if real else e["chosen_ids"])
                starts.append(e["rejected_starts"][j] if real else e["chosen_start"])
                mask[i, j] = real
        ids, attn, score = pad_rows(rows, starts, self.pad_token_id)
        return {"input_ids": ids, "attention_mask": attn, "score_mask": score, "negatives_mask": mask}


class SDPOTrainer(DPOTrainer):
    """TRL's DPO trainer on `{prompt, chosen, rejected: [answers]}` rows with the S-DPO loss; `title_range` scores
    title tokens over the catalog titles only, `anchor` adds anchor × the chosen answers' mean NLL (RPO)."""

    def __init__(self, *args, title_range: tuple[int, int] | None = None, anchor: float = 0.0, **kwargs):
        if kwargs["args"].precompute_ref_log_probs:
            raise ValueError("S-DPO scores the reference on the fly: precompute_ref_log_probs is not supported")
        self.title_range, self.anchor = title_range, anchor
        kwargs.setdefault("data_collator", KRejectedCollator(kwargs["processing_class"].pad_token_id))
        super().__init__(*args, **kwargs)

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        """Token ids of every answer (prompt + answer + EOS) and where each answer starts (`encode_completion`)."""
        tokenizer = self._tokenizer

        def encode(row: dict) -> dict:
            chosen, start = encode_completion(tokenizer, row["prompt"], row["chosen"], args.max_length)
            rejected = [encode_completion(tokenizer, row["prompt"], answer, args.max_length) for answer in row["rejected"]]
            return {
                "chosen_ids": chosen,
                "chosen_start": start,
                "rejected_ids": [r[0] for r in rejected],
                "rejected_starts": [r[1] for r in rejected],
            }

        return dataset.map(encode, remove_columns=dataset.column_names)

    def _set_signature_columns_if_needed(self):
        if self._signature_columns is None:
            self._signature_columns = COLUMNS

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        mode = "train" if self.model.training else "eval"
        mask = inputs["negatives_mask"]
        b, k = mask.shape
        rows = (inputs["input_ids"], inputs["attention_mask"], inputs["score_mask"])
        policy, counts = sequence_logps(model, *rows, self.title_range)
        with torch.no_grad():
            reference = sequence_logps(self.ref_model, *rows, self.title_range)[0]
        loss, stats = sdpo_loss(policy[:b], policy[b:].view(b, k), reference[:b], reference[b:].view(b, k), mask, self.beta)
        if self.anchor:  # RPO's NLL term on the chosen answers, as TRL's DPO loss type "sft" computes it
            stats["nll"] = -policy[:b].sum() / counts[:b].sum().clamp(min=1)
            loss = loss + self.anchor * stats["nll"]
        for key, value in stats.items():
            self._metrics[mode][key].append(self.accelerator.gather(value.detach()).mean().item())
        return (loss, None) if return_outputs else loss
