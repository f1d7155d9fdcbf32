"""A tiny XTTS checkpoint with random weights, built in a temp folder for tests (never committed).

Stand-in for the real XTTS-v2 weights, which cannot be downloaded on this project's machines: the same files
(config.json, model.pth, vocab.json) loaded through the same code path, just small and untrained. The HiFi-GAN
decoder and the speaker encoder keep their fixed real sizes, so the folder weighs ~90 MB.
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


def build_tiny_xtts(folder: Path, max_audio_tokens: int = 40) -> Path:
    """Write config.json, vocab.json and model.pth for a 2-layer, 64-channel XTTS into `folder`."""
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

    args = XttsArgs(
        gpt_layers=2,
        gpt_n_model_channels=64,
        gpt_n_heads=4,
        gpt_number_text_tokens=tokenizer.get_vocab_size(),
        gpt_start_text_token=tokenizer.token_to_id("[START]"),
        gpt_stop_text_token=tokenizer.token_to_id("[STOP]"),
        gpt_num_audio_tokens=AUDIO_TOKENS + 2,
        gpt_start_audio_token=AUDIO_TOKENS,
        gpt_stop_audio_token=AUDIO_TOKENS + 1,
        gpt_max_audio_tokens=max_audio_tokens,
        gpt_use_perceiver_resampler=True,
        decoder_input_dim=64,
    )
    config = XttsConfig(model_args=args, languages=["en", "es", "zh-cn"])
    config.save_json(str(folder / "config.json"))
    torch.manual_seed(0)
    model = Xtts(config)
    model.init_models()
    with torch.no_grad():  # untrained logits would stop at random (1 in 66 per token): speak to the token limit
        model.gpt.mel_head.bias[args.gpt_stop_audio_token] = -1e4
    torch.save({"model": model.state_dict()}, folder / "model.pth")
    return folder
