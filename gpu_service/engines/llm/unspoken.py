"""What a reply says when it is asked in a language its model does not write (the embedded SmolLM2-135M writes
English only: asked in Mandarin it writes garbled Chinese, in Spanish it drifts into nonsense). A fixed sentence in
that language says so and where a real model is set up, rather than the model's attempt. Written to be heard: no
setting names read out letter by letter (/health and the page name the setting)."""

from __future__ import annotations

from contracts.gpu_service import Language

UNSPOKEN_LANGUAGE: dict[Language, str] = {
    "en": "My built-in language model does not speak English. To talk in English, connect a real language model "
    "in the settings.",
    "zh": "我内置的小语言模型只会说英语，不会说中文。要用中文交谈，请在设置里接入一个真正的语言模型。",
    "es": "Mi pequeño modelo de lenguaje integrado solo habla inglés, no español. Para conversar en español, conecte "
    "un modelo de lenguaje real en la configuración.",
}
