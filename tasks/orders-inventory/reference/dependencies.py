from typing import Annotated

from fastapi import Depends, Path
from sqlalchemy.ext.asyncio import AsyncSession

from database import get_session

SessionDep = Annotated[AsyncSession, Depends(get_session)]
ProductId = Annotated[int, Path(ge=1, le=2147483647)]
OrderId = Annotated[int, Path(ge=1, le=2147483647)]
