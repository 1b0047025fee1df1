module example.consumer {
    requires io.kmem;
}
