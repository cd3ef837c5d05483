"""Write a small Hugging Face GPT-2 checkpoint to a directory, for trying `zoo import` offline.

    python scripts/tiny_hf_checkpoint.py tiny-gpt2   # config.json, model.safetensors,
                                                     # vocab.json, merges.txt

The layout is what a released GPT-2 repository holds. The weights are random (transformers'
own initialisation, seeded); the tokenizer is the zoo's byte-level BPE trained on the default
corpus (Shakespeare), saved in GPT-2's vocab.json + merges.txt format. The shape is the
gpt2-small twin's (4 layers, width 160, 5 heads, context 256), so training it with
`zoo train gpt2-small --init-from` costs what training that twin costs. Needs the `test` extra
(torch, transformers).
"""

import argparse
import pathlib
import shutil
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path, help="a new directory")
    parser.add_argument("--vocabulary-size", type=int, default=4096)
    args = parser.parse_args()
    if args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"error: {args.out} already exists and is not empty")

    import torch
    import transformers

    from zoo.data import load_corpus, prepare_tokenizer

    assets = prepare_tokenizer(load_corpus("shakespeare"), "byte_bpe", args.vocabulary_size)
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=assets.vocabulary_size,
        n_positions=256,
        n_embd=160,
        n_layer=4,
        n_head=5,
        bos_token_id=assets.end_of_text_id,
        eos_token_id=assets.end_of_text_id,
    )
    transformers.GPT2LMHeadModel(config).save_pretrained(args.out, safe_serialization=True)
    for name in ("vocab.json", "merges.txt"):
        shutil.copyfile(assets.path / name, args.out / name)
    print(
        f"wrote {args.out}: GPT-2, {config.n_layer} layers × {config.n_embd}, vocabulary "
        f"{config.vocab_size}, with vocab.json and merges.txt"
    )


if __name__ == "__main__":
    main()
