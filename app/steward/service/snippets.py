"""Ready-to-paste ways to point other tools at the gateway (shown in the app, written in README)."""

from __future__ import annotations

MASK = "«token»"


def gateway_snippets(url: str, token: str | None, model: str = "auto") -> dict[str, str]:
    """Title → text. `token` None (no token required) leaves the auth parts out."""
    key = token or "none"
    auth = f' \\\n  -H "Authorization: Bearer {token}"' if token else ""
    return {
        "curl": (
            f"curl {url}/v1/chat/completions{auth} \\\n"
            '  -H "Content-Type: application/json" \\\n'
            f'  -d \'{{"model": "{model}", "messages": [{{"role": "user", "content": "Hello"}}]}}\''
        ),
        "Environment (OpenAI clients)": f"export OPENAI_BASE_URL={url}/v1\nexport OPENAI_API_KEY={key}",
        "Python (openai)": (
            "from openai import OpenAI\n\n"
            f'client = OpenAI(base_url="{url}/v1", api_key="{key}")\n'
            "reply = client.chat.completions.create(\n"
            f'    model="{model}", messages=[{{"role": "user", "content": "Hello"}}]\n'
            ")\n"
            "print(reply.choices[0].message.content)"
        ),
        "Ollama clients": (
            f"export OLLAMA_HOST={url}\n"
            "# clients that send headers: Authorization: Bearer " + (token or "(none needed)")
        ),
    }
