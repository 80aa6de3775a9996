// Doubly linked intrusive list: the node lives inside the element, so linking never allocates.
// Used for the ready list, listener accept queues and free lists.
#pragma once

#include <cstddef>

namespace linetcp::base {

struct ListNode {
  ListNode* prev = nullptr;
  ListNode* next = nullptr;
  bool linked() const { return next != nullptr; }
};

// A circular list with a sentinel head. T must have a `ListNode` member named by `Member`.
template <typename T, ListNode T::*Member>
class IntrusiveList {
 public:
  IntrusiveList() { head_.prev = head_.next = &head_; }
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;

  bool empty() const { return head_.next == &head_; }
  std::size_t size() const { return size_; }

  void push_back(T& item) { insert_before(&head_, &(item.*Member)); }
  void push_front(T& item) { insert_before(head_.next, &(item.*Member)); }

  T* front() { return empty() ? nullptr : owner(head_.next); }
  T* pop_front() {
    if (empty()) return nullptr;
    ListNode* n = head_.next;
    unlink(n);
    return owner(n);
  }
  void remove(T& item) {
    ListNode* n = &(item.*Member);
    if (n->linked()) unlink(n);
  }

 private:
  static T* owner(ListNode* n) {
    // Offset of the member inside T, measured once on raw storage (no object is constructed).
    alignas(T) static char probe[sizeof(T)];
    static const std::ptrdiff_t offset =
        reinterpret_cast<char*>(&(reinterpret_cast<T*>(probe)->*Member)) - probe;
    return reinterpret_cast<T*>(reinterpret_cast<char*>(n) - offset);
  }
  void insert_before(ListNode* pos, ListNode* n) {
    n->next = pos;
    n->prev = pos->prev;
    pos->prev->next = n;
    pos->prev = n;
    ++size_;
  }
  void unlink(ListNode* n) {
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = nullptr;
    --size_;
  }

  ListNode head_;
  std::size_t size_ = 0;
};

}  // namespace linetcp::base
