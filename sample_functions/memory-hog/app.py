def handler(event, context):
    chunks = []
    for i in range(512):  # 512 x 1 MB, each page written so it really counts
        chunk = bytearray(1024 * 1024)
        chunk[::4096] = b"x" * 256
        chunks.append(chunk)
        if i % 64 == 0:
            print(f"allocated {i} MB")
    return {"allocated_mb": len(chunks)}  # never reached at 128 MB
