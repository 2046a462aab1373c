from textwrap import dedent

import pytest

from harness.core.extract import extract_files, render_files_as_response

MODELS = """\
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True, index=True)
"""

MAIN = """\
from fastapi import FastAPI

from routes import router

app = FastAPI(title="Users API")
app.include_router(router)
"""


def md(text: str) -> str:
    return dedent(text).lstrip("\n")


def test_seed_style_answer_with_one_file_comment_per_fence():
    answer = md(
        """
        ```python
        # models.py
        from sqlalchemy.orm import DeclarativeBase


        class Base(DeclarativeBase):
            pass
        ```

        ```python
        # schemas.py
        # Pydantic schemas for validation/serialization
        from pydantic import BaseModel


        class UserCreate(BaseModel):
            email: str
        ```

        ```python
        # main.py
        from fastapi import FastAPI

        app = FastAPI()
        ```
        """
    )

    result = extract_files(answer)

    assert result.files == {
        "models.py": "from sqlalchemy.orm import DeclarativeBase\n\n\n"
        "class Base(DeclarativeBase):\n    pass\n",
        "schemas.py": "# Pydantic schemas for validation/serialization\n"
        "from pydantic import BaseModel\n\n\nclass UserCreate(BaseModel):\n    email: str\n",
        "main.py": "from fastapi import FastAPI\n\napp = FastAPI()\n",
    }
    assert result.shape == "file-comment-fences"
    assert result.truncated is False
    assert result.problems == []


@pytest.mark.parametrize(
    ("header", "path"),
    [
        ("# models.py", "models.py"),
        ("#models.py", "models.py"),
        ("# app/models.py", "app/models.py"),
        ("# File: models.py", "models.py"),
        ("# filename: routes.py", "routes.py"),
        ("# --- database.py ---", "database.py"),
        ("# models.py - SQLAlchemy models", "models.py"),
        ("# `dependencies.py`", "dependencies.py"),
        ('"""models.py"""', "models.py"),
        ("# ./models.py", "models.py"),
        ("# requirements.txt", "requirements.txt"),
    ],
)
def test_file_comment_header_variants(header, path):
    for info in ("python", "py", ""):
        answer = f"```{info}\n{header}\nimport os\n```\n"

        result = extract_files(answer)

        assert result.files == {path: "import os\n"}
        assert result.shape == "file-comment-fences"


@pytest.mark.parametrize(
    ("label", "path"),
    [
        ("### models.py", "models.py"),
        ("## `routes.py`", "routes.py"),
        ("**schemas.py**", "schemas.py"),
        ("**File: main.py**", "main.py"),
        ("**File:** `main.py`", "main.py"),
        ("models.py:", "models.py"),
        ("### 1. models.py", "models.py"),
        ("### Step 2: `schemas.py`", "schemas.py"),
        ("### Database models (`app/models.py`)", "app/models.py"),
        ("- **routers/users.py** - user endpoints", "routers/users.py"),
        ("Create `database.py`:", "database.py"),
    ],
)
def test_label_before_the_fence_names_the_file(label, path):
    answer = f"Here is the implementation.\n\n{label}\n\n```python\nimport os\n```\n"

    result = extract_files(answer)

    assert result.files == {path: "import os\n"}
    assert result.shape == "heading-fences"
    assert result.problems == []


def test_heading_applies_across_a_description_but_not_into_the_next_section():
    answer = md(
        """
        ### models.py

        This module defines the ORM models.

        ```python
        import os
        ```

        ### Running the app

        ```bash
        uvicorn main:app --reload
        ```
        """
    )

    result = extract_files(answer)

    assert result.files == {"models.py": "import os\n"}
    assert result.shape == "heading-fences"


def test_one_fence_holding_several_files_is_split_at_header_lines():
    answer = md(
        """
        ```python
        # models.py
        # create the models
        from sqlalchemy.orm import DeclarativeBase


        class Base(DeclarativeBase):
            # schemas.py is where the API shapes live
            pass

        # app/__init__.py

        # routes.py
        from fastapi import APIRouter

        router = APIRouter()
            # main.py
        ```
        """
    )

    result = extract_files(answer)

    assert result.files == {
        "models.py": "# create the models\nfrom sqlalchemy.orm import DeclarativeBase\n\n\n"
        "class Base(DeclarativeBase):\n    # schemas.py is where the API shapes live\n"
        "    pass\n",
        "app/__init__.py": "",
        "routes.py": "from fastapi import APIRouter\n\nrouter = APIRouter()\n    # main.py\n",
    }
    assert result.shape == "multi-file-fence"
    assert result.problems == []


def test_code_before_the_first_header_goes_to_the_fence_label_or_is_reported():
    body = "```python\nimport os\n\n# schemas.py\nimport sys\n```\n"

    labelled = extract_files("### main.py\n" + body)
    unlabelled = extract_files(body)

    assert labelled.files == {"main.py": "import os\n", "schemas.py": "import sys\n"}
    assert labelled.shape == "multi-file-fence"
    assert unlabelled.files == {"schemas.py": "import sys\n"}
    assert unlabelled.problems == ["dropped 2 line(s) before the first file header in fence #1"]


def test_single_unlabelled_fence_becomes_main_py():
    answer = f"Sure! Here's a minimal app:\n\n```python\n{MAIN}```\n\nRun it with uvicorn.\n"

    result = extract_files(answer)

    assert result.files == {"main.py": MAIN}
    assert result.shape == "single-unlabelled"
    assert result.problems == []


def test_several_unlabelled_fences_keep_the_one_that_creates_the_app():
    answer = md(
        """
        First the models:

        ```python
        class User:
            pass
        ```

        Then the application:

        ```python
        from fastapi import FastAPI

        app = FastAPI()
        ```
        """
    )

    result = extract_files(answer)

    assert result.files == {"main.py": "from fastapi import FastAPI\n\napp = FastAPI()\n"}
    assert result.shape == "unlabelled-app-fence"
    assert result.problems == ["ignored python fence #1 without a file name (2 line(s))"]


def test_unlabelled_fences_without_an_app_are_ambiguous():
    answer = "```python\nimport os\n```\n\n```python\nimport sys\n```\n"

    result = extract_files(answer)

    assert result.files == {}
    assert result.shape == "ambiguous-unlabelled"
    assert result.problems == [
        "ignored python fence #1 without a file name (1 line(s))",
        "ignored python fence #2 without a file name (1 line(s))",
    ]


def test_unlabelled_usage_snippet_next_to_named_files_is_reported_not_kept():
    answer = md(
        """
        ```python
        # main.py
        from fastapi import FastAPI

        app = FastAPI()
        ```

        You can call it like this:

        ```python
        import httpx

        httpx.get("http://localhost:8000/users")
        ```
        """
    )

    result = extract_files(answer)

    assert set(result.files) == {"main.py"}
    assert result.shape == "file-comment-fences"
    assert result.problems == ["ignored python fence #2 without a file name (3 line(s))"]


@pytest.mark.parametrize(
    "answer",
    [
        "I'm sorry, but I can't help with that request.",
        "",
        md(
            """
            To get started, install the dependencies:

            ```bash
            pip install fastapi uvicorn
            ```

            ```
            app/
            ├── main.py
            └── models.py
            ```
            """
        ),
    ],
)
def test_answers_without_code(answer):
    result = extract_files(answer)

    assert result.files == {}
    assert result.shape == "no-code"
    assert result.truncated is False
    assert result.problems == ["no code found in the answer"]


def test_cut_off_answer_keeps_the_partial_file():
    answer = md(
        """
        ```python
        # models.py
        import os
        ```

        ```python
        # routes.py
        from fastapi import APIRouter

        router = APIRouter()


        @router.get("/users")
        async def list_users(limit: int =
        """
    )

    result = extract_files(answer)

    assert result.truncated is True
    assert result.files["models.py"] == "import os\n"
    assert result.files["routes.py"].endswith("async def list_users(limit: int =\n")
    assert result.shape == "file-comment-fences"
    assert result.problems == [
        "the answer ends inside an unclosed fence (#2, routes.py): it was cut off"
    ]


def test_cut_off_unlabelled_fence_still_becomes_main_py():
    result = extract_files("```python\nfrom fastapi import FastAPI\n\napp = FastAPI(")

    assert result.files == {"main.py": "from fastapi import FastAPI\n\napp = FastAPI(\n"}
    assert result.truncated is True
    assert result.shape == "single-unlabelled"
    assert result.problems == [
        "the answer ends inside an unclosed fence (#1, unnamed): it was cut off"
    ]


def test_mixed_answer_keeps_labelled_requirements_and_ignores_shell():
    answer = md(
        """
        Here's a complete implementation.

        ### requirements.txt
        ```text
        fastapi
        sqlalchemy[asyncio]
        ```

        Install everything from requirements.txt:

        ```bash
        pip install -r requirements.txt
        ```

        **.env**
        ```bash
        DATABASE_URL=postgresql+asyncpg://user:pass@localhost/app
        ```

        ```python
        # app/models.py
        import os
        ```

        Now the entry point, `app/main.py`:

        ```python
        from fastapi import FastAPI

        app = FastAPI()
        ```

        Run it with `uvicorn app.main:app`.
        """
    )

    result = extract_files(answer)

    assert result.files == {
        "requirements.txt": "fastapi\nsqlalchemy[asyncio]\n",
        ".env": "DATABASE_URL=postgresql+asyncpg://user:pass@localhost/app\n",
        "app/models.py": "import os\n",
        "app/main.py": "from fastapi import FastAPI\n\napp = FastAPI()\n",
    }
    assert result.shape == "mixed"
    assert result.problems == []


@pytest.mark.parametrize(
    "info",
    ["python:models.py", 'python title="models.py"', "py filename=models.py", "models.py"],
)
def test_file_name_in_the_fence_info_string(info):
    result = extract_files(f"```{info}\nimport os\n```\n")

    assert result.files == {"models.py": "import os\n"}
    assert result.shape == "info-string-fences"


def test_tilde_and_long_fences_crlf_and_bom():
    answer = (
        "\ufeff~~~python\r\n# models.py\r\nimport os\r\n~~~\r\n\r\n"
        "### README.md\r\n````markdown\r\n# Users API\r\n\r\n# main.py\r\n"
        "```bash\r\nuvicorn main:app\r\n```\r\n````\r\n"
    )

    result = extract_files(answer)

    assert result.files == {
        "models.py": "import os\n",
        "README.md": "# Users API\n\n# main.py\n```bash\nuvicorn main:app\n```\n",
    }
    assert result.shape == "mixed"
    assert result.problems == []


def test_fence_indented_under_a_list_item():
    answer = "1. **models.py**\n\n   ```python\n   class User:\n       pass\n   ```\n"

    result = extract_files(answer)

    assert result.files == {"models.py": "class User:\n    pass\n"}


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("# /etc/cron.d/evil.py", "skipped unsafe path '/etc/cron.d/evil.py': it is absolute"),
        ("# ../outside.py", "skipped unsafe path '../outside.py': it has a '..' component"),
        ("# app/../../x.py", "skipped unsafe path 'app/../../x.py': it has a '..' component"),
        ("# app\\models.py", "skipped unsafe path 'app\\\\models.py': it contains a backslash"),
        ("# C:/temp/x.py", "skipped unsafe path 'C:/temp/x.py': it is absolute"),
        ("# ~/x.py", "skipped unsafe path '~/x.py': it is absolute"),
        ("# File:", "skipped unsafe path '': the file name is empty"),
    ],
)
def test_unsafe_paths_are_skipped_and_reported(header, problem):
    answer = f"```python\n{header}\nimport os\n```\n\n```python\n# main.py\nimport sys\n```\n"

    result = extract_files(answer)

    assert result.files == {"main.py": "import sys\n"}
    assert result.problems == [problem]


def test_duplicate_file_keeps_the_last_version():
    answer = "```python\n# main.py\nv = 1\n```\n\n```python\n# ./main.py\nv = 2\n```\n"

    result = extract_files(answer)

    assert result.files == {"main.py": "v = 2\n"}
    assert result.problems == ["duplicate file 'main.py': the later version replaces the earlier"]


def test_answer_without_fences_split_by_headers():
    answer = f"# models.py\n{MODELS}\n# main.py\n{MAIN}"

    result = extract_files(answer)

    assert result.files == {"models.py": MODELS, "main.py": MAIN}
    assert result.shape == "unfenced-multi-file"


def test_answer_of_raw_python_without_fences():
    result = extract_files(MAIN)

    assert result.files == {"main.py": MAIN}
    assert result.shape == "unfenced-single"


def test_render_orders_files_like_the_seed_template():
    files = {
        "main.py": MAIN,
        "utils.py": "X = 1\n",
        "routers/users.py": "Y = 2\n",
        "requirements.txt": "fastapi\n",
        "services/users.py": "Z = 3\n",
        "dependencies.py": "D = 4\n",
        "database.py": "E = 5\n",
        "schemas.py": "F = 6\n",
        "models.py": MODELS,
    }

    rendered = render_files_as_response(files)

    headers = [line for line in rendered.splitlines() if line.startswith("# ")]
    assert headers == [
        "# models.py",
        "# schemas.py",
        "# database.py",
        "# dependencies.py",
        "# routers/users.py",
        "# services/users.py",
        "# requirements.txt",
        "# utils.py",
        "# main.py",
    ]
    assert rendered.startswith("```python\n# models.py\nfrom sqlalchemy import String\n")
    assert "```text\n# requirements.txt\nfastapi\n```\n" in rendered


def test_render_then_extract_round_trips():
    files = {
        "app/__init__.py": "",
        "app/models.py": MODELS,
        "app/routers/users.py": "from fastapi import APIRouter\n\nrouter = APIRouter()\n",
        "app/main.py": MAIN,
        "requirements.txt": "fastapi\nuvicorn\n",
        "config.yaml": "# settings\ndebug: false\n",
        ".env.example": "DATABASE_URL=\n",
        "README.md": "# Users API\n\n```bash\nuvicorn app.main:app\n```\n",
    }

    result = extract_files(render_files_as_response(files))

    assert result.files == files
    assert result.problems == []
    assert result.truncated is False
