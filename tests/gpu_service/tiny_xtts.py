"""XTTS checkpoints with random weights, built in a folder for tests and the GPU check (never committed).

Stand-in for the real XTTS-v2 weights, which cannot be downloaded on this project's machines: the same files
(config.json, model.pth, vocab.json) loaded through the same code path, untrained. Tiny (2 GPT layers of 64
channels; the HiFi-GAN decoder and the speaker encoder keep their fixed real sizes, ~90 MB) for tests, or at
XTTS-v2's published size (30 layers of 1024 channels, 1026 audio codes, the perceiver resampler: ~1.8 GB), whose
compute cost, and so speed and memory, are the real model's. The vocabulary is small either way (the text
embedding keeps XTTS-v2's 6681 rows); it changes no cost that matters.
"""

from __future__ import annotations

from pathlib import Path

SPECIAL_TOKENS = ["[STOP]", "[UNK]", "[SPACE]", "[START]", "[en]", "[es]", "[zh-cn]"]
# Text the tokenizer learns from: English, Spanish, and pinyin with tone digits (XTTS romanizes Mandarin first).
CORPUS = [
    "hello there how are you today the quick brown fox jumps over the lazy dog",
    "hola que tal estas hoy el rapido zorro marron salta sobre el perro perezoso",
    "ni3 hao3 jin1 tian1 tian1 qi4 hen3 hao3 wo3 men5 qu4 gong1 yuan2 ba5",
    "abcdefghijklmnopqrstuvwxyz 0123456789 .,;:!?¿¡'- áéíóúñü",
]
AUDIO_TOKENS = 64  # codes 0..63, then start and stop


# coqui/XTTS-v2 config.json, model_args (the values that set the architecture and its cost).
XTTS_V2_ARGS = {
    "gpt_layers": 30,
    "gpt_n_model_channels": 1024,
    "gpt_n_heads": 16,
    "gpt_number_text_tokens": 6681,
    "gpt_num_audio_tokens": 1026,
    "gpt_start_audio_token": 1024,
    "gpt_stop_audio_token": 1025,
    "gpt_max_audio_tokens": 605,
    "gpt_max_text_tokens": 402,
    "gpt_use_perceiver_resampler": True,
    "decoder_input_dim": 1024,
}


def build_tiny_xtts(folder: Path, max_audio_tokens: int = 40) -> Path:
    """Write config.json, vocab.json and model.pth for a 2-layer, 64-channel XTTS into `folder`."""
    return build_random_xtts(folder, full_size=False, max_audio_tokens=max_audio_tokens)


def build_random_xtts(folder: Path, full_size: bool, max_audio_tokens: int = 40) -> Path:
    """config.json, vocab.json and model.pth: tiny, or at XTTS-v2's size (`max_audio_tokens` is then its 605)."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from TTS.tts.configs.xtts_config import XttsConfig
    from TTS.tts.models.xtts import Xtts, XttsArgs

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=200, special_tokens=SPECIAL_TOKENS)
    tokenizer.train_from_iterator(CORPUS, trainer)
    tokenizer.save(str(folder / "vocab.json"))

    tokens = {
        "gpt_start_text_token": tokenizer.token_to_id("[START]"),
        "gpt_stop_text_token": tokenizer.token_to_id("[STOP]"),
    }
    if full_size:
        args = XttsArgs(**XTTS_V2_ARGS, **tokens)
    else:
        args = XttsArgs(
            gpt_layers=2,
            gpt_n_model_channels=64,
            gpt_n_heads=4,
            gpt_number_text_tokens=tokenizer.get_vocab_size(),
            gpt_num_audio_tokens=AUDIO_TOKENS + 2,
            gpt_start_audio_token=AUDIO_TOKENS,
            gpt_stop_audio_token=AUDIO_TOKENS + 1,
            gpt_max_audio_tokens=max_audio_tokens,
            gpt_use_perceiver_resampler=True,
            decoder_input_dim=64,
            **tokens,
        )
    config = XttsConfig(model_args=args, languages=["en", "es", "zh-cn"])
    config.save_json(str(folder / "config.json"))
    torch.manual_seed(0)
    model = Xtts(config)
    model.init_models()
    with torch.no_grad():  # untrained logits would stop at random (1 in 66 or 1026 per token): speak to the token limit
        model.gpt.mel_head.bias[args.gpt_stop_audio_token] = -1e4
    torch.save({"model": model.state_dict()}, folder / "model.pth")
    return folder
