#include "daemon/app/store_worker.h"

namespace keywarden {

StoreWorker::StoreWorker(std::unique_ptr<Store> store) : store_(std::move(store)) {
  thread_ = std::thread([this] { loop(); });
}

StoreWorker::~StoreWorker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void StoreWorker::enqueue(Item item) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(item));
  }
  wake_.notify_one();
}

void StoreWorker::loop() {
  for (;;) {
    std::deque<Item> batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      batch.swap(queue_);
    }
    std::exception_ptr commit_error;
    try {
      store_->batch([&] {
        for (auto& item : batch) item.work(*store_);
      });
    } catch (...) {
      commit_error = std::current_exception();
    }
    items_.fetch_add(static_cast<long>(batch.size()), std::memory_order_relaxed);
    commits_.fetch_add(1, std::memory_order_relaxed);
    for (auto& item : batch) item.done(commit_error);
  }
}

}  // namespace keywarden
