"""Titles as tokens: a tokenizer whose vocabulary holds every catalog title as one entry.

Token ids are assembled *structurally*: text is cut at every quoted catalog title (`"Title"`, quotes
included, is one token) and at special-token strings; the pieces in between go through the byte-level BPE
model alone. The tokenizer's own added-token matching is never used on free text, because it fires inside
words ("Tenacious" → "Ten" + "acious" when "Ten" is a title). Title ids decode through the title table, not
the byte-level decoder (which garbles non-ASCII titles such as "Horrorstör").

On disk the model folder stays an ordinary Hugging Face directory — the titles are added tokens, so the
vocabulary size matches the model — plus `negrec_titles.json` (the table), which `load_model` uses to
return this class instead of the plain tokenizer.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Sequence

from transformers import BatchEncoding, PreTrainedTokenizerFast
from transformers.tokenization_utils_base import TruncationStrategy
from transformers.utils import PaddingStrategy

TITLE_TABLE = "negrec_titles.json"
_SEGMENT_CACHE = 50_000  # distinct text pieces kept encoded (template pieces repeat in every prompt)


def quoted(title: str) -> str:
    """A title's token text: the title in double quotes, as it appears in prompts and answers."""
    return f'"{title}"'


class TitleTokenizer(PreTrainedTokenizerFast):
    """A fast BPE tokenizer plus one token per catalog title, encoded structurally (see the module doc)."""

    titles: list[str]
    title_offset: int

    def attach_titles(self, titles: Sequence[str], offset: int) -> "TitleTokenizer":
        """Use ids offset..offset+len(titles)-1 for the titles (they must be the tokenizer's added tokens)."""
        self.titles = list(titles)
        self.title_offset = int(offset)
        self._title_id = {t: offset + i for i, t in enumerate(self.titles)}
        self._longest = max((len(t) for t in self.titles), default=0)
        specials = sorted({t for t in self.all_special_tokens if t}, key=len, reverse=True)
        self._special_re = re.compile("(" + "|".join(re.escape(t) for t in specials) + ")") if specials else None
        self._segments: dict[str, list[int]] = {}
        return self

    @classmethod
    def load(cls, folder: str | Path) -> "TitleTokenizer":
        """The tokenizer of a title-token model folder."""
        folder = Path(folder)
        table = json.loads((folder / TITLE_TABLE).read_text(encoding="utf-8"))
        tok = cls.from_pretrained(folder, local_files_only=True)
        return tok.attach_titles(table["titles"], table["offset"])

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Save as a plain fast tokenizer (loadable by `AutoTokenizer`) plus the title table."""
        files = super().save_pretrained(save_directory, *args, **kwargs)
        folder = Path(save_directory)
        config = folder / "tokenizer_config.json"
        if config.is_file():  # AutoTokenizer must not look for this project class
            data = json.loads(config.read_text(encoding="utf-8"))
            data["tokenizer_class"] = "PreTrainedTokenizerFast"
            config.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        write_title_table(folder, self.titles, self.title_offset)
        return files

    # --- structure -------------------------------------------------------------------------------------

    def is_title(self, token_id: int) -> bool:
        """Whether an id is a title token."""
        return self.title_offset <= token_id < self.title_offset + len(self.titles)

    def title_id(self, title: str) -> int | None:
        """Token id of a catalog title (unquoted), or None."""
        return self._title_id.get(title)

    def _bpe(self, text: str) -> list[int]:
        """Ids of text without titles or special tokens: pre-tokenizer + BPE model, no added-token matching."""
        ids = self._segments.get(text)
        if ids is None:
            backend = self.backend_tokenizer
            if backend.normalizer is not None:
                text_n = backend.normalizer.normalize_str(text)
            else:
                text_n = text
            pieces = backend.pre_tokenizer.pre_tokenize_str(text_n) if backend.pre_tokenizer else [(text_n, None)]
            ids = [t.id for piece, _ in pieces for t in backend.model.tokenize(piece)]
            if len(self._segments) < _SEGMENT_CACHE:
                self._segments[text] = ids
        return ids

    def _title_at(self, text: str, quote: int) -> tuple[int, int] | None:
        """(title id, end) of the longest catalog title quoted from position `quote`, or None."""
        best = None
        end = text.find('"', quote + 1)
        limit = quote + 1 + self._longest
        while 0 <= end <= limit:
            tid = self._title_id.get(text[quote + 1 : end])
            if tid is not None:
                best = (tid, end + 1)
            end = text.find('"', end + 1)
        return best

    def structural_ids(self, text: str) -> list[int]:
        """Token ids of `text`: quoted catalog titles and special tokens as single ids, BPE in between."""
        pieces = self._special_re.split(text) if self._special_re else [text]
        out: list[int] = []
        for k, piece in enumerate(pieces):
            if k % 2:  # the separators re.split keeps: special-token strings
                out.append(self.convert_tokens_to_ids(piece))
                continue
            start, q = 0, piece.find('"')
            while q >= 0:
                hit = self._title_at(piece, q)
                if hit is None:
                    q = piece.find('"', q + 1)
                    continue
                if q > start:
                    out += self._bpe(piece[start:q])
                out.append(hit[0])
                start = hit[1]
                q = piece.find('"', start)
            if start < len(piece):
                out += self._bpe(piece[start:])
        return out

    # --- the transformers entry points ---------------------------------------------------------------

    def _encode_plus(
        self,
        text,
        text_pair=None,
        add_special_tokens: bool = True,
        padding_strategy: PaddingStrategy = PaddingStrategy.DO_NOT_PAD,
        truncation_strategy=None,
        max_length: int | None = None,
        stride: int = 0,
        is_split_into_words: bool = False,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors=None,
        return_token_type_ids=None,
        return_attention_mask=None,
        **kwargs,
    ) -> BatchEncoding:
        """Every `__call__`/`encode` lands here: structural ids, then the usual padding and tensors."""
        if text_pair is not None or is_split_into_words:
            raise ValueError("the title tokenizer encodes plain text only (no pairs, no pre-split words)")
        single = isinstance(text, str)
        ids = [self.structural_ids(t) for t in ([text] if single else text)]
        if truncation_strategy not in (None, TruncationStrategy.DO_NOT_TRUNCATE) and max_length is not None:
            ids = [row[:max_length] for row in ids]
        encoded = BatchEncoding({"input_ids": ids[0] if single else ids})
        if padding_strategy != PaddingStrategy.DO_NOT_PAD or return_attention_mask is not False:
            encoded = self.pad(
                encoded,
                padding=padding_strategy,
                max_length=max_length,
                pad_to_multiple_of=pad_to_multiple_of,
                padding_side=padding_side,
                return_attention_mask=return_attention_mask,
            )
        return BatchEncoding(dict(encoded), tensor_type=return_tensors)

    def _decode(self, token_ids, skip_special_tokens: bool = False, clean_up_tokenization_spaces=None, **kwargs) -> str:
        """Title ids through the title table, runs of other ids through the BPE decoder."""
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        parts: list[str] = []
        run: list[int] = []
        for tid in token_ids:
            if self.is_title(tid):
                if run:
                    parts.append(
                        super()._decode(run, skip_special_tokens=skip_special_tokens, clean_up_tokenization_spaces=False)
                    )
                    run = []
                parts.append(quoted(self.titles[tid - self.title_offset]))
            else:
                run.append(tid)
        if run:
            parts.append(super()._decode(run, skip_special_tokens=skip_special_tokens, clean_up_tokenization_spaces=False))
        return "".join(parts)


def add_title_tokens(tokenizer, titles: Sequence[str]) -> int:
    """Append one added token per title (quoted) to a fast BPE tokenizer; return the first title id."""
    from tokenizers import AddedToken

    offset = len(tokenizer)
    # normalized=False: the token text is kept verbatim; special=False: titles are ordinary output tokens
    tokenizer.add_tokens([AddedToken(quoted(t), normalized=False, special=False) for t in titles])
    if len(tokenizer) - offset != len(titles):
        raise ValueError("catalog titles must be distinct to become tokens")
    return offset


def write_title_table(folder: str | Path, titles: Sequence[str], offset: int) -> Path:
    """The title table beside a saved tokenizer."""
    path = Path(folder) / TITLE_TABLE
    path.write_text(json.dumps({"offset": offset, "titles": list(titles)}, ensure_ascii=False), encoding="utf-8")
    return path
