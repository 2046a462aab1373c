from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from database import create_tables, dispose_engine
from exceptions import DomainError
from routes import orders_router, products_router


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await create_tables()
    yield
    await dispose_engine()


app = FastAPI(title="Orders and Inventory API", version="1.0.0", lifespan=lifespan)
app.include_router(products_router)
app.include_router(orders_router)


@app.exception_handler(DomainError)
async def domain_error_handler(request: Request, exc: DomainError) -> JSONResponse:
    return JSONResponse(status_code=exc.status_code, content={"detail": str(exc)})
