"""A fake Hugging Face Hub on 127.0.0.1 for offline tests of publishing and downloading.

It answers the endpoints `huggingface_hub` uses: repo info and revision info, the recursive file tree,
`resolve` with HEAD and GET (ETag, X-Repo-Commit, Content-Length, `Range` for a resumed transfer), 401 for
a gated repository without an accepted token, 404 with the Hub's error codes, and for publishing: repo
creation, YAML validation, preupload and the NDJSON commit.

`benchmark_repos()` builds fixture-sized copies of each benchmark's repository in its real layout:
annotation files from `../shared/fixtures/benchmarks/`, small real videos from `../shared/data/videos/`,
zipped where the real repository zips them (MVBench one zip per source folder, Video-MME numbered chunks,
TempCompass and NExT-QA one zip), plain mp4 folders for MMVU.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

from huggingface_hub import DatasetCard
from paths import FIXTURES, VIDEOS

GATED_TOKEN = "hf_accepted"


class FakeHub:
    """A minimal Hub on 127.0.0.1. Every request is kept in `requests` as (method, path, authorization
    header, body bytes); repositories live in `repos` (`files`: path → bytes, `private`, `gated`).

    `fail_commit` makes the commit endpoint answer with that status; `cut_after[path] = n` sends only the
    first n bytes of the next full GET of that file and drops the connection (a broken transfer).
    """

    def __init__(self, repos: dict[str, dict] | None = None) -> None:
        self.requests: list[tuple[str, str, str | None, bytes]] = []
        self.repos: dict[str, dict] = {k: {**v, "files": dict(v["files"])} for k, v in (repos or {}).items()}
        self.fail_commit: int | None = None
        self.cut_after: dict[str, int] = {}
        self.ranges: list[tuple[str, str]] = []  # (file, Range header) of every ranged GET
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                fake.handle(self, "GET", b"")

            def do_HEAD(self):
                fake.handle(self, "HEAD", b"")

            def do_POST(self):
                fake.handle(self, "POST", self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    # ------------------------------------------------------------------------------------------------------

    @staticmethod
    def reply(handler, status: int, body, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    @staticmethod
    def sha(repo: dict) -> str:
        """The repository's commit: a hash of its content, so a new commit gets a new sha."""
        digest = hashlib.sha1()
        for path, data in sorted(repo["files"].items()):
            digest.update(path.encode() + b"\0" + hashlib.sha1(data).digest())
        return digest.hexdigest()

    def downloads(self, repo_id: str, methods: tuple[str, ...] = ("GET",)) -> list[str]:
        """Files of `repo_id` asked for with `methods` (GET: bytes sent; HEAD: metadata), in order."""
        prefix = f"/datasets/{repo_id}/resolve/"
        return [
            p[len(prefix) :].split("/", 1)[1] for m, p, _, _ in self.requests if m in methods and p.startswith(prefix)
        ]

    def commits(self, repo_id: str) -> list[list[dict]]:
        """The NDJSON operations of every commit sent to `repo_id`."""
        return [
            [json.loads(line) for line in body.decode().splitlines()]
            for method, path, _, body in self.requests
            if path == f"/api/datasets/{repo_id}/commit/main"
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------------------------------------------

    def handle(self, handler, method: str, body: bytes) -> None:
        path = unquote(urlparse(handler.path).path)
        auth = handler.headers.get("authorization")
        with self.lock:
            self.requests.append((method, path, auth, body))
        parts = path.strip("/").split("/")
        if path == "/api/repos/create":
            req = json.loads(body)
            repo_id = f"{req['organization']}/{req['name']}"
            self.repos.setdefault(repo_id, {"files": {}, "private": req.get("visibility") == "private"})
            return self.reply(handler, 200, {"url": f"{self.url}/datasets/{repo_id}", "name": repo_id})
        if path == "/api/validate-yaml":
            DatasetCard(json.loads(body)["content"])  # the real Hub rejects metadata that does not parse
            return self.reply(handler, 200, {"errors": [], "warnings": []})
        api = parts[:2] == ["api", "datasets"]
        if not (api or parts[:1] == ["datasets"]) or len(parts) < (4 if api else 3):
            return self.reply(handler, 500, {"error": f"unexpected {method} {path}"})
        base = 2 if api else 1
        repo_id, rest = "/".join(parts[base : base + 2]), parts[base + 2 :]
        repo = self.repos.get(repo_id)
        if repo is None:
            return self.reply(handler, 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
        if repo.get("gated") and auth != f"Bearer {GATED_TOKEN}":
            return self.reply(
                handler,
                401,
                {"error": "gated"},
                {
                    "X-Error-Code": "GatedRepo",
                    "X-Error-Message": f"Access to dataset {repo_id} is restricted. You must have access to it and "
                    "be authenticated to access it. Please log in.",
                },
            )
        sha = self.sha(repo)
        if not api:
            if rest[:1] != ["resolve"] or len(rest) < 3:
                return self.reply(handler, 500, {"error": f"unexpected {method} {path}"})
            return self.serve_file(handler, method, repo, "/".join(rest[2:]), sha)
        if not rest or rest[0] == "revision":
            return self.reply(
                handler,
                200,
                {
                    "id": repo_id,
                    "sha": sha,
                    "private": repo.get("private", False),
                    "gated": "auto" if repo.get("gated") else False,
                    "siblings": [{"rfilename": p} for p in sorted(repo["files"])],
                },
            )
        if rest[0] == "tree":
            prefix = "/".join(rest[2:])
            return self.reply(
                handler,
                200,
                [
                    {"type": "file", "path": p, "size": len(b), "oid": hashlib.sha1(b).hexdigest()}
                    for p, b in sorted(repo["files"].items())
                    if p.startswith(prefix)
                ],
            )
        if rest[0] == "preupload":
            files = json.loads(body)["files"]
            return self.reply(
                handler,
                200,
                {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]},
            )
        if rest[0] == "commit":
            if self.fail_commit:
                return self.reply(handler, self.fail_commit, {"error": "You don't have the rights"})
            for line in body.decode().splitlines():
                op = json.loads(line)
                if op["key"] == "file":
                    repo["files"][op["value"]["path"]] = base64.b64decode(op["value"]["content"])
                elif op["key"] == "deletedFile":
                    del repo["files"][op["value"]["path"]]
            oid = hashlib.sha1(body).hexdigest()
            return self.reply(
                handler,
                200,
                {
                    "success": True,
                    "commitOid": oid,
                    "pullRequestUrl": None,
                    "commitUrl": f"{self.url}/datasets/{repo_id}/commit/{oid}",
                },
            )
        return self.reply(handler, 500, {"error": f"unexpected {method} {path}"})

    def serve_file(self, handler, method: str, repo: dict, name: str, sha: str) -> None:
        data = repo["files"].get(name)
        if data is None:
            return self.reply(
                handler, 404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": sha}
            )
        start, status = 0, 200
        ranged = handler.headers.get("Range")
        if ranged and ranged.startswith("bytes="):
            start, status = int(ranged[len("bytes=") :].split("-")[0]), 206
            self.ranges.append((name, ranged))
        handler.send_response(status)
        handler.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        handler.send_header("X-Repo-Commit", sha)
        handler.send_header("Accept-Ranges", "bytes")
        handler.send_header("Content-Length", str(len(data) - start))
        if status == 206:
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        handler.end_headers()
        if method == "HEAD":
            return
        cut = self.cut_after.pop(name, None) if start == 0 else None
        handler.wfile.write(data[start:] if cut is None else data[:cut])
        if cut is not None:  # a broken transfer: fewer bytes than announced, then the connection drops
            handler.wfile.flush()
            time.sleep(0.3)  # let the client take in what it got before the connection goes
            handler.close_connection = True


def serve(repos: dict[str, dict], monkeypatch, tmp_path) -> FakeHub:
    """Start a `FakeHub` with `repos` and point huggingface_hub at it, with an empty cache under `tmp_path`, no
    token and `tmp_path` as the working folder (no benchmark's local default path exists there). The caller
    closes it."""
    from huggingface_hub import constants

    server = FakeHub(repos)
    monkeypatch.setattr(constants, "ENDPOINT", server.url)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", server.url + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(constants, "HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf_home" / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no_token"))
    monkeypatch.chdir(tmp_path)
    return server


# ----------------------------------------------------------------------------------------------------------
# benchmark repositories


def zipped(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _video_bytes() -> list[bytes]:
    """Small real videos, smallest first."""
    return [p.read_bytes() for p in sorted(VIDEOS.glob("*.mp4"), key=lambda p: p.stat().st_size)]


#: Extra multiple-choice MMVU items (CONSTRUCTED from the fixture's real `validation_3`, new ids and video
#: paths) so that a `--limit` run has more items than it selects.
MMVU_EXTRA = 4


@functools.lru_cache(maxsize=1)
def benchmark_repos() -> dict[str, dict]:
    """Repository id → {"files": {path: bytes}, "gated": bool} for each benchmark that lives on the Hub."""
    from twgrpo_data.benchmarks import mvbench

    video = _video_bytes()[0]
    repos: dict[str, dict] = {}

    items = json.loads((FIXTURES / "mmvu" / "validation.json").read_text())
    template = next(i for i in items if i["question_type"] == "multiple-choice")
    for n in range(MMVU_EXTRA):
        items.append(
            {
                **template,
                "id": f"validation_9{n}",
                "video": template["video"].replace("/Thermodynamics/0.mp4", f"/Physics/{n}.mp4"),
            }
        )
    files = {"validation.json": json.dumps(items, indent=2).encode()}
    for item in items:
        files[item["video"].split("/resolve/main/", 1)[1]] = video
    repos["yale-nlp/MMVU"] = {"files": files}

    rows = json.loads((FIXTURES / "videomme" / "videomme_rows.json").read_text())
    ids = sorted({r["videoID"] for r in rows})
    half = (len(ids) + 1) // 2
    repos["lmms-lab/Video-MME"] = {
        "files": {
            "videomme/test-00000-of-00001.parquet": (
                FIXTURES / "videomme/videomme/test-00000-of-00001.parquet"
            ).read_bytes(),
            "videos_chunked_01.zip": zipped({f"data/{v}.mp4": video for v in ids[:half]}),
            "videos_chunked_02.zip": zipped({f"data/{v}.mp4": video for v in ids[half:]}),
        }
    }

    files = {f"json/{p.name}": p.read_bytes() for p in sorted((FIXTURES / "mvbench" / "json").glob("*.json"))}
    archives: dict[str, dict[str, bytes]] = {}
    for p in sorted((FIXTURES / "mvbench" / "json").glob("*.json")):
        task = mvbench.TASKS[p.stem]
        for item in json.loads(p.read_text()):
            member = f"{task.folder}/{item['video']}"
            archives.setdefault(mvbench.HUB.archive_of(member), {})[member] = video
    files.update({name: zipped(members) for name, members in archives.items()})
    repos["OpenGVLab/MVBench"] = {"files": files, "gated": True}

    lmms = FIXTURES / "tempcompass" / "lmms-lab"
    files = {p.relative_to(lmms).as_posix(): p.read_bytes() for p in sorted(lmms.glob("*/*.parquet"))}
    video_ids = {json_row["video_id"] for p in lmms.glob("*/test_rows.json") for json_row in json.loads(p.read_text())}
    files["tempcompass_videos.zip"] = zipped({f"videos/{v}.mp4": video for v in sorted(video_ids)})
    repos["lmms-lab/TempCompass"] = {"files": files}

    mc = FIXTURES / "nextqa" / "lmms-lab_CONSTRUCTED" / "MC"
    videos = {str(r["video"]) for r in json.loads((mc / "test_rows.json").read_text())}
    repos["lmms-lab/NExTQA"] = {
        "files": {
            "MC/test-00000-of-00001.parquet": (mc / "test-00000-of-00001.parquet").read_bytes(),
            "videos.zip": zipped({f"{v}.mp4": video for v in sorted(videos)}),
        }
    }
    return repos


# ----------------------------------------------------------------------------------------------------------
# hostile repositories (issue 31): what an attacker can publish on the Hub


def records_parquet(records) -> bytes:
    """Records as the parquet shard `twgrpo publish` uploads (`meta` as JSON text)."""
    import pyarrow.parquet as pq

    from twgrpo_data.io.arrow import records_to_table

    buf = io.BytesIO()
    pq.write_table(records_to_table(records), buf)
    return buf.getvalue()


#: The three ways a README's `configs: data_files:` can name a file outside the repository, which `datasets`
#: obeys: an absolute path, a path that climbs out with `..`, and a URL.
OUTSIDE_FORMS = ("absolute", "dotdot", "file-url")


def outside_path(form: str, private_file) -> str:
    """`private_file` (a file of the machine that reads the repository) written in one of `OUTSIDE_FORMS`; the
    `..` form climbs from any cache folder to `/` and back down."""
    absolute = str(private_file)
    return {
        "absolute": absolute,
        "dotdot": "../" * 40 + absolute.lstrip("/"),
        "file-url": "file://" + absolute,
    }[form]


def hostile_readme_repo(form: str, private_file) -> dict:
    """A dataset repository that looks like one `twgrpo publish` made (a genuine parquet shard of one public
    record) but whose README points the train split at `private_file` on the reader's machine (`form`)."""
    from twgrpo_data.record import Record

    public = Record("public-1", "why did the girl wave?", ["to greet", "to leave"], ["A"], source="nextgqa")
    readme = (
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n"
        f"    path: {outside_path(form, private_file)}\n---\n# A dataset\n"
    )
    return {"files": {"README.md": readme.encode(), "data/train-00000-of-00001.parquet": records_parquet([public])}}
