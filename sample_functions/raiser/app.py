class OrderNotFound(Exception):
    pass


def find_order(order_id):
    raise OrderNotFound(f"no order with id {order_id!r}")


def handler(event, context):
    return find_order(event.get("order_id", "A-42"))
