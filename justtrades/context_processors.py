def product(request):
    return {"PRODUCT_NAME": "Just.Trades"}
