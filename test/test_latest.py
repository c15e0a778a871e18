import threading

from pose_ros.ros.latest import LatestSlot


def test_newest_wins_and_old_items_are_counted_as_dropped():
    slot: LatestSlot[int] = LatestSlot()
    for i in range(5):
        slot.put(i)
    assert slot.take(timeout_s=0) == 4
    assert (slot.received, slot.dropped) == (5, 4)
    assert slot.take(timeout_s=0.01) is None


def test_take_waits_for_a_producer():
    slot: LatestSlot[str] = LatestSlot()
    timer = threading.Timer(0.05, slot.put, args=("frame",))
    timer.start()
    assert slot.take(timeout_s=5) == "frame"
    timer.join()


def test_close_wakes_the_consumer():
    slot: LatestSlot[int] = LatestSlot()
    result = []
    worker = threading.Thread(target=lambda: result.append(slot.take(timeout_s=10)))
    worker.start()
    slot.close()
    worker.join(timeout=5)
    assert not worker.is_alive() and result == [None]


def test_concurrent_producers_and_consumer_lose_nothing_silently():
    slot: LatestSlot[int] = LatestSlot()
    taken = []
    stop = threading.Event()

    def consume():
        while not stop.is_set() or slot._has_item:
            item = slot.take(timeout_s=0.01)
            if item is not None:
                taken.append(item)

    consumer = threading.Thread(target=consume)
    consumer.start()
    producers = [threading.Thread(target=lambda b=b: [slot.put(b + i) for i in range(2000)])
                 for b in (0, 10_000)]
    for p in producers:
        p.start()
    for p in producers:
        p.join()
    stop.set()
    consumer.join(timeout=10)
    # every frame is either taken once or counted as dropped
    assert len(taken) + slot.dropped == slot.received == 4000
    assert len(set(taken)) == len(taken)
