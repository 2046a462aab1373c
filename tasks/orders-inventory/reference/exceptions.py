class DomainError(Exception):
    status_code: int = 400


class ProductNotFoundError(DomainError):
    status_code = 404

    def __init__(self, product_id: int) -> None:
        super().__init__(f"Product {product_id} not found")
        self.product_id = product_id


class OrderNotFoundError(DomainError):
    status_code = 404

    def __init__(self, order_id: int) -> None:
        super().__init__(f"Order {order_id} not found")
        self.order_id = order_id


class SkuAlreadyExistsError(DomainError):
    status_code = 409

    def __init__(self, sku: str) -> None:
        super().__init__(f"SKU {sku} already exists")
        self.sku = sku


class InsufficientStockError(DomainError):
    status_code = 409

    def __init__(self, product_id: int, requested: int, available: int) -> None:
        super().__init__(
            f"Insufficient stock for product {product_id}: "
            f"requested {requested}, available {available}"
        )
        self.product_id = product_id
        self.requested = requested
        self.available = available


class StockOutOfRangeError(DomainError):
    status_code = 409

    def __init__(self, product_id: int, stock: int, delta: int) -> None:
        super().__init__(
            f"Adjusting the stock of product {product_id} by {delta} "
            f"would leave it out of range (current stock {stock})"
        )
        self.product_id = product_id
        self.stock = stock
        self.delta = delta


class InvalidOrderTransitionError(DomainError):
    status_code = 409

    def __init__(self, order_id: int, current: str, target: str) -> None:
        super().__init__(f"Order {order_id} is {current} and cannot become {target}")
        self.order_id = order_id
        self.current = current
        self.target = target
